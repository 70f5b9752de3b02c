#pragma once
// The operations of a stream that may wait: read(n), read to EOF, readexactly,
// readuntil/readline, drain and wait_closed. Each consumes nothing until it can answer,
// so a cancelled one leaves every byte buffered (see stream.hpp).
#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>

#include "corio/errors.hpp"
#include "corio/event.hpp"
#include "corio/io_wait.hpp"
#include "corio/net/stream_core.hpp"
#include "corio/task.hpp"

namespace corio::detail {

/// read(n) is an awaitable object rather than a coroutine: no frame per read (nor per idle
/// connection), and when bytes are buffered or already queued in the kernel the task does
/// not suspend at all. Otherwise it parks on the descriptor; an edge retries the recv
/// right there and resumes the task only with an answer (a stale edge parks again).
class [[nodiscard]] read_some_op : public readiness_awaiter {
public:
    read_some_op(stream_core& c, std::size_t n) noexcept : readiness_awaiter(c.sock.io, false), c_(c), n_(n) {
        ready_fn = thunk<io_waiter, &read_some_op::on_ready, void>;
    }
    read_some_op(read_some_op&&) noexcept = default; // only before it is awaited

    bool await_ready() { return attempt(); } // await_suspend: readiness_awaiter's parking
    std::string await_resume() {
        if (error_) std::rethrow_exception(error_);
        if (!done_) readiness_awaiter::await_resume(); // throws cancelled_error
        return std::move(out_);
    }

private:
    /// True with the answer in out_; false when the socket has nothing yet.
    bool attempt() {
        if (n_ > 0) {
            if (c_.available() > 0) {
                out_ = c_.take(std::min(n_, c_.available()));
            } else {
                long got = c_.recv_once(n_);
                if (got < 0) return false;
                out_.assign(recv_scratch(), static_cast<std::size_t>(got));
            }
        }
        done_ = true;
        return true;
    }

    friend struct dispatch;
    void on_ready() noexcept {
        if (cancelled_after_wake()) { // the bytes stay in the socket for the next read
            cancelled = true;
            handle.resume();
            return;
        }
        try {
            if (!attempt() && park_again()) return;
        } catch (...) { // the socket's error: the task rethrows it
            error_ = std::current_exception();
        }
        handle.resume();
    }

    stream_core& c_;
    std::size_t n_;
    std::string out_;
    std::exception_ptr error_;
    bool done_ = false;
};

inline task<std::string> read_to_eof(stream_core& c) {
    while (!c.eof)
        if (!c.try_fill()) co_await readable(c.sock.io);
    co_return c.take(c.available());
}

inline task<std::string> read_exactly(stream_core& c, std::size_t n) {
    while (c.available() < n) {
        if (c.eof) throw incomplete_read_error(c.take(c.available()), n);
        if (!c.try_fill()) co_await readable(c.sock.io);
    }
    co_return c.take(n);
}

/// asyncio's readuntil: the separator is included; a separator starting past `limit`, or
/// more than `limit` bytes without one, throws limit_overrun_error and consumes nothing.
/// `eof_gives_rest`: readline's behaviour at EOF (the partial line instead of an error).
/// The separator is `owned` when given, else `fixed` (static storage: readline's "\n").
inline task<std::string> read_until(stream_core& c, std::string_view fixed, std::string owned,
                                    bool eof_gives_rest) {
    const std::string_view sep = owned.empty() ? fixed : std::string_view(owned);
    if (sep.empty()) throw std::invalid_argument("corio: readuntil() separator must not be empty");
    std::size_t offset = 0; // bytes already searched: scanning stays linear
    for (;;) {
        std::size_t avail = c.available();
        if (avail >= sep.size()) {
            std::string_view data(c.rdata(), avail);
            std::size_t pos = data.find(sep, offset);
            if (pos != std::string_view::npos) {
                if (pos > c.limit)
                    throw limit_overrun_error(pos, "separator is found, but chunk is longer than limit");
                co_return c.take(pos + sep.size());
            }
            offset = avail + 1 - sep.size();
            if (offset > c.limit)
                throw limit_overrun_error(offset, "separator is not found, and chunk exceeds the limit");
        }
        if (c.eof) {
            std::string rest = c.take(c.available());
            if (eof_gives_rest) co_return rest;
            throw incomplete_read_error(std::move(rest), 0);
        }
        if (!c.try_fill()) co_await readable(c.sock.io);
    }
}

/// An awaitable rather than a coroutine: drain() after every write costs nothing while
/// the buffer is below the high-water mark.
class [[nodiscard]] drain_op {
public:
    explicit drain_op(stream_core& c) noexcept : c_(c), wait_(c.changed) {}
    bool await_ready() const {
        if (c_.write_error) c_.throw_write_error();
        return !c_.paused;
    }
    /// `changed` is only notified when the buffer stops being paused, or on close.
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
        c_.check_loop();
        return wait_.await_suspend(h);
    }
    void await_resume() {
        wait_.await_resume();
        if (c_.write_error) c_.throw_write_error();
    }

private:
    stream_core& c_;
    event::awaiter wait_;
};

inline task<void> wait_closed(stream_core& c) {
    while (c.sock.is_open()) {
        c.check_loop();
        co_await c.changed.wait();
    }
}

} // namespace corio::detail
