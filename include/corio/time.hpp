#pragma once
// sleep, sleep_until and wait_for (a timeout without a scope, see timeout.hpp).
#include <coroutine>
#include <optional>
#include <type_traits>

#include "corio/detail/chrono.hpp"
#include "corio/detail/timer_heap.hpp"
#include "corio/errors.hpp"
#include "corio/loop.hpp"
#include "corio/task.hpp"
#include "corio/timeout.hpp"

namespace corio {

namespace detail {

/// 56 bytes, in every sleeping frame: the loop is found through the thread, not stored;
/// the deadline waits in the timer node.
class [[nodiscard]] sleep_awaiter : timer_node, cancellable {
public:
    explicit sleep_awaiter(std::int64_t deadline_ns, bool yield_only) noexcept : yield_(yield_only) {
        deadline = deadline_ns;
    }
    sleep_awaiter(sleep_awaiter&&) noexcept = default; // only before it is awaited
    ~sleep_awaiter() {
        if (pending()) event_loop::current().cancel_timer(this);
    }

    bool await_ready() const noexcept { return false; }

    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
        handle_ = h;
        event_loop& loop = event_loop::current();
        if (!arm(slot_of(h), thunk<operation, &sleep_awaiter::on_cancel>)) return false;
        if (yield_) {
            loop.post(h); // sleep(0): behind everything already ready
        } else {
            fire = thunk<timer_node, &sleep_awaiter::on_fire>;
            loop.add_timer(this, deadline);
        }
        return true;
    }

    void await_resume() {
        disarm();
        throw_if_cancelled_on_resume();
    }

private:
    friend struct dispatch;
    void on_fire() noexcept { event_loop::current().post(handle_); }
    /// Cancelled before the timer fired: resume now. After it fired (already queued),
    /// the resumption throws instead, as asyncio's task does.
    void on_cancel() noexcept {
        cancelled = true;
        if (pending()) {
            event_loop& loop = event_loop::current();
            loop.cancel_timer(this);
            loop.post(handle_);
        }
    }

    bool yield_;
    std::coroutine_handle<> handle_;
};

} // namespace detail

/// Suspends until `deadline`. A deadline already past still yields to the ready tasks.
/// A steady_clock deadline is a time point of the loop's clock (corio::now(), the same
/// under virtual time) and is kept exactly as given, so tasks sleeping until the same time
/// point wake in the order they went to sleep; another clock's deadline is converted once.
template <class Clock, class Duration>
detail::sleep_awaiter sleep_until(std::chrono::time_point<Clock, Duration> deadline) {
    using steady = std::chrono::steady_clock;
    if constexpr (std::is_same_v<Clock, steady>) {
        auto at = std::chrono::ceil<steady::duration>(deadline.time_since_epoch());
        return detail::sleep_awaiter(std::chrono::duration_cast<std::chrono::nanoseconds>(at).count(),
                                     deadline <= now());
    } else {
        auto d = deadline - Clock::now();
        return detail::sleep_awaiter(
            event_loop::to_ns(now() + std::chrono::ceil<steady::duration>(d)), d <= d.zero());
    }
}

/// Suspends for `d`; sleep(0) yields to the other ready tasks (asyncio.sleep(0)).
template <class Rep, class Period>
detail::sleep_awaiter sleep(std::chrono::duration<Rep, Period> d) {
    auto deadline = now() + std::chrono::ceil<std::chrono::steady_clock::duration>(d);
    return detail::sleep_awaiter(event_loop::to_ns(deadline), d <= d.zero());
}

/// Awaits `work` for at most `d` (asyncio.wait_for): timeout(d, work) without a scope. On
/// timeout the work is cancelled and awaited, then timeout_error is thrown.
template <class Awaitable, class Rep, class Period>
auto wait_for(Awaitable&& work, std::chrono::duration<Rep, Period> d) {
    return timeout(d, detail::into_task(std::forward<Awaitable>(work)));
}

} // namespace corio
