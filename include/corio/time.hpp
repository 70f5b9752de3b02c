#pragma once
// sleep, sleep_until and wait_for.
#include <coroutine>
#include <optional>
#include <type_traits>

#include "corio/detail/child.hpp"
#include "corio/detail/chrono.hpp"
#include "corio/detail/timer_heap.hpp"
#include "corio/errors.hpp"
#include "corio/loop.hpp"
#include "corio/task.hpp"

namespace corio {

/// The running loop's clock (asyncio's loop.time()): steady_clock, or the loop's virtual
/// clock under run_options{.clock = corio::virtual_time}. Outside a loop, steady_clock.
inline std::chrono::steady_clock::time_point now() noexcept {
    if (event_loop* l = detail::current_loop_ptr) return l->time();
    return std::chrono::steady_clock::now();
}

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
        if (!arm(slot_of(h), &on_cancel)) return false;
        if (yield_) {
            loop.post(h); // sleep(0): behind everything already ready
        } else {
            fire = &on_fire;
            loop.add_timer(this, deadline);
        }
        return true;
    }

    void await_resume() {
        disarm();
        throw_if_cancelled_on_resume();
    }

private:
    static void on_fire(timer_node* n) noexcept {
        auto* self = static_cast<sleep_awaiter*>(n);
        event_loop::current().post(self->handle_);
    }
    /// Cancelled before the timer fired: resume now. After it fired (already queued),
    /// the resumption throws instead, as asyncio's task does.
    static void on_cancel(operation* op) noexcept {
        auto* self = static_cast<sleep_awaiter*>(static_cast<cancellable*>(op));
        self->cancelled = true;
        if (self->pending()) {
            event_loop& loop = event_loop::current();
            loop.cancel_timer(self);
            loop.post(self->handle_);
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

namespace detail {

/// Runs one child with a deadline. On timeout it cancels the child, waits for it to
/// unwind, then throws timeout_error.
template <class T>
class [[nodiscard]] timeout_awaiter : child_group, timer_node {
public:
    timeout_awaiter(task<T> t, std::int64_t deadline_ns) : child_(std::move(t)) {
        deadline = deadline_ns;
        fire = &on_timeout;
        child_finished = &on_child_finished;
        cancel_children = &on_cancel_children;
    }
    timeout_awaiter(timeout_awaiter&&) = default;
    ~timeout_awaiter() {
        if (pending()) loop_->cancel_timer(this);
    }

    bool await_ready() const noexcept { return false; }

    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
        loop_ = &event_loop::current();
        return begin(h, 1, [this] {
            loop_->add_timer(this, deadline);
            child_.start(this);
        });
    }

    T await_resume() {
        throw_if_cancelled();
        if (!timed_out_) return std::move(child_.result()).value();
        try {
            return std::move(child_.result()).value(); // finished in spite of the timeout
        } catch (const cancelled_error&) {
            throw timeout_error();
        }
    }

private:
    static void on_timeout(timer_node* n) noexcept {
        auto* self = static_cast<timeout_awaiter*>(n);
        self->timed_out_ = true;
        self->child_.cancel();
    }
    static void on_child_finished(child_group* g, completion*) noexcept {
        auto* self = static_cast<timeout_awaiter*>(g);
        if (self->pending()) self->loop_->cancel_timer(self);
    }
    static void on_cancel_children(child_group* g) noexcept {
        auto* self = static_cast<timeout_awaiter*>(g);
        if (self->pending()) self->loop_->cancel_timer(self);
        self->child_.cancel();
    }

    child<T> child_;
    event_loop* loop_ = nullptr;
    bool timed_out_ = false;
};

} // namespace detail

/// Awaits `work` for at most `d` (asyncio.wait_for). On timeout the work is cancelled and
/// awaited, then timeout_error is thrown.
template <class Awaitable, class Rep, class Period>
auto wait_for(Awaitable&& work, std::chrono::duration<Rep, Period> d) {
    using T = typename detail::task_for_t<Awaitable>::value_type;
    auto deadline = now() + std::chrono::ceil<std::chrono::steady_clock::duration>(d);
    return detail::timeout_awaiter<T>(detail::into_task(std::forward<Awaitable>(work)),
                                      event_loop::to_ns(deadline));
}

} // namespace corio
