#pragma once
// Waiting for a descriptor to become readable or writable: the awaitable every operation
// that tries its syscall first uses after EAGAIN. Parking, waking and the count of
// waits belong to the loop's io_waits (detail/io_waits.hpp); this is its coroutine face.
#include <coroutine>
#include <stdexcept>

#include "corio/detail/io_state.hpp"
#include "corio/detail/io_waits.hpp"
#include "corio/detail/operation.hpp"
#include "corio/loop.hpp"

namespace corio {

namespace detail {

/// Parks on a descriptor's reader or writer slot until the reactor reports an edge.
/// Callers retry their syscall afterwards.
class [[nodiscard]] readiness_awaiter : public io_waiter {
public:
    readiness_awaiter(io_state& s, bool for_write) noexcept : state_(s), write_(for_write) {}
    /// Only before it is awaited (an operation object handed to spawn or gather moves).
    readiness_awaiter(readiness_awaiter&& o) noexcept : io_waiter(o), state_(o.state_), write_(o.write_) {}
    /// A frame destroyed while parked (abandoned at shutdown) must not leave the
    /// descriptor pointing at it. A descriptor whose loop has ended has no waiters left.
    ~readiness_awaiter() {
        if (state_.loop) state_.loop->io_waits().unpark(state_, write_, *this);
    }

    bool await_ready() const noexcept { return false; }

    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
        event_loop& here = event_loop::current();
        if (state_.loop != &here) [[unlikely]]
            throw_foreign_loop(io_kind_name(state_.kind), state_.fd, state_.fd >= 0 ? state_.loop : nullptr,
                               &here);
        handle = h;
        if (!arm(slot_of(h), thunk<operation, &readiness_awaiter::on_cancel>)) return false;
        try {
            here.io_waits().park(state_, write_, *this);
        } catch (...) {
            disarm();
            throw;
        }
        return true;
    }

    /// Returns true when the descriptor reported an error or hang-up. A cancellation that
    /// arrives after the edge is delivered here; the bytes stay in the socket for the
    /// next read.
    bool await_resume() {
        throw_if_cancelled_on_resume();
        return hangup;
    }

protected:
    /// From a ready_fn: waits for the next edge without resuming the task. False when a
    /// cancellation is pending instead (`cancelled` is then set: resume the task).
    bool park_again() noexcept {
        if (!arm(slot, thunk<operation, &readiness_awaiter::on_cancel>)) return false;
        state_.loop->io_waits().park(state_, write_, *this); // the slot was emptied by the edge
        return true;
    }

private:
    friend struct dispatch;
    void on_cancel() noexcept {
        cancelled = true;
        event_loop& loop = event_loop::current();
        loop.io_waits().unpark(state_, write_, *this);
        loop.post(handle);
    }

    io_state& state_;
    bool write_;
};

} // namespace detail

/// Suspends until a registered descriptor is readable. Cancellable: the wait ends with
/// cancelled_error and nothing is read.
inline detail::readiness_awaiter readable(detail::io_state& s) noexcept { return {s, false}; }
/// Suspends until a registered descriptor is writable. Cancellable like readable().
inline detail::readiness_awaiter writable(detail::io_state& s) noexcept { return {s, true}; }

} // namespace corio
