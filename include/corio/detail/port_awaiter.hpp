#pragma once
// One read, write or fsync on the loop's completion port (io_uring), awaited: submitted in
// await_suspend, resumed from the port's completion on the loop thread. Short reads and
// writes are continued inside the awaiter (one resumption for the whole transfer), as the
// worker pool's loops around pread/pwrite do.
//
// Cancellation asks the port to stop the operation and resumes only when its completion
// arrives, never while the kernel may still read or write the buffer; the task then sees
// cancelled_error whatever the kernel did, and the caller undoes at its own level (a file
// keeps its position: the bytes read are dropped). A cancellation that arrives after the
// completion but before the task resumed is delivered at the resumption, with the same
// outcome. The frame of an awaiter in flight is never destroyed: loop shutdown cancels the
// tasks and keeps turning while the port has operations in flight.
#include <cerrno>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <system_error>

#include "corio/detail/completion_port.hpp"
#include "corio/detail/dispatch.hpp"
#include "corio/detail/operation.hpp"
#include "corio/detail/scheduler.hpp"

namespace corio::detail {

class [[nodiscard]] port_awaiter : cancellable, port_op {
public:
    enum class kind : unsigned char { read, write, fsync, connect };

    /// What was done: bytes transferred (fewer than asked only at end of file, or before
    /// an error), and an errno (0: none).
    struct result {
        std::size_t done = 0;
        int error = 0;
    };

    /// Reads or writes n bytes at `offset` of fd (for fsync, buf and n are unused; for
    /// connect, buf and n are the address).
    port_awaiter(completion_port& port, kind k, int fd, char* buf, std::size_t n, std::uint64_t offset) noexcept
        : port_(&port), buf_(buf), n_(n), offset_(offset), fd_(fd), kind_(k) {}
    // The kernel holds its address from submission to completion.
    port_awaiter(const port_awaiter&) = delete;
    port_awaiter& operator=(const port_awaiter&) = delete;
    /// Destroying it in flight would leave the kernel writing into freed memory; that cannot
    /// be recovered from, so it is not allowed to go unnoticed.
    ~port_awaiter() {
        if (in_flight_) std::terminate();
    }

    bool await_ready() const noexcept { return false; }

    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
        if (!arm(slot_of(h), thunk<operation, &port_awaiter::on_cancel>)) return false;
        handle_ = h;
        scheduler_ = &current_scheduler();
        complete = thunk<port_op, &port_awaiter::on_complete>;
        try {
            submit();
        } catch (...) { // the ring could not take it: nothing is in flight
            disarm();
            throw;
        }
        in_flight_ = true;
        return true;
    }

    /// Throws cancelled_error if cancelled before the start, while in flight, or after the
    /// completion but before this resumed.
    result await_resume() {
        throw_if_cancelled_on_resume();
        return {done_, error_};
    }

private:
    friend struct dispatch;

    void submit() {
        switch (kind_) {
        case kind::read: port_->read_at(fd_, buf_ + done_, n_ - done_, offset_ + done_, *this); break;
        case kind::write: port_->write_at(fd_, buf_ + done_, n_ - done_, offset_ + done_, *this); break;
        case kind::fsync: port_->fsync(fd_, false, *this); break;
        case kind::connect: port_->connect(fd_, buf_, static_cast<unsigned>(n_), *this); break;
        }
    }

    /// Loop thread, from the port. Continues a short transfer unless cancelled meanwhile.
    void on_complete(int res) noexcept {
        bool again = false;
        if (kind_ == kind::connect) {
            error_ = res < 0 ? -res : 0; // one attempt: a retry would find it in progress
        } else if (res > 0 && kind_ != kind::fsync) {
            done_ += static_cast<std::size_t>(res);
            again = done_ < n_;
        } else if (res == 0) {
            again = kind_ == kind::write && done_ < n_; // as pwrite's loop: 0 is no progress
        } else if (res == -EINTR) { // as the pool's loops retry it
            again = true;
        } else if (res < 0) {
            error_ = -res;
        }
        if (again && !cancelled) {
            try {
                submit();
                return;
            } catch (const std::system_error& e) {
                error_ = e.code().value();
            } catch (...) {
                error_ = ENOMEM;
            }
        }
        in_flight_ = false;
        disarm();
        scheduler_->post(handle_);
    }

    /// The completion resumes the task, once the kernel has let go of the buffer.
    void on_cancel() noexcept {
        cancelled = true;
        port_->cancel(*this);
    }

    completion_port* port_;
    char* buf_;
    std::size_t n_;
    std::uint64_t offset_;
    std::size_t done_ = 0;
    std::coroutine_handle<> handle_;
    scheduler* scheduler_ = nullptr;
    int fd_;
    int error_ = 0;
    kind kind_;
    bool in_flight_ = false;
};

} // namespace corio::detail
