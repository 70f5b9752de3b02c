#pragma once
// timeout / timeout_at (asyncio.timeout and asyncio.timeout_at, 3.11): a deadline around
// an awaitable, or around a body that receives the scope and can move its deadline.
//
// The work runs as the one child of the awaiter, with its own cancellation slot (as in
// gather). On expiry the awaiter cancels that slot, not the awaiting task, so telling the
// scope's own cancellation from one that came from outside needs no counting: an outside
// request reaches the awaiter itself and passes through as cancelled_error; only the
// scope's own becomes timeout_error. asyncio needs cancelling()/uncancel() for this
// because it cancels the whole task; here the awaiting task's cancelling() is untouched.
#include "corio/detail/chrono.hpp"
#include <coroutine>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "corio/detail/awaitable_traits.hpp"
#include "corio/detail/child.hpp"
#include "corio/detail/invoke.hpp"
#include "corio/detail/timer_heap.hpp"
#include "corio/errors.hpp"
#include "corio/loop.hpp"
#include "corio/task.hpp"

namespace corio {

/// The deadline of a running timeout (asyncio.Timeout). A body given to timeout() or
/// timeout_at() receives it and may read or move its deadline while it runs.
class timeout_scope : protected detail::timer_node {
public:
    using clock = std::chrono::steady_clock;

    /// The current deadline, or nullopt when there is none.
    std::optional<clock::time_point> when() const noexcept {
        if (!has_deadline_) return std::nullopt;
        return clock::time_point(std::chrono::duration_cast<clock::duration>(std::chrono::nanoseconds(deadline)));
    }

    /// Moves the deadline; nullopt removes it. A deadline already past expires the scope
    /// on the next loop turn. Throws std::logic_error once the scope has expired (asyncio
    /// raises RuntimeError).
    void reschedule(std::optional<clock::time_point> at) {
        if (expired_) throw std::logic_error("corio: timeout_scope has already expired");
        if (pending()) loop_->cancel_timer(this);
        has_deadline_ = at.has_value();
        if (at) deadline = event_loop::to_ns(*at);
        if (active_ && has_deadline_) loop_->add_timer(this, deadline);
    }

    /// True once the deadline has passed and the work was cancelled for it.
    bool expired() const noexcept { return expired_; }

protected:
    explicit timeout_scope(std::optional<std::int64_t> deadline_ns) noexcept : has_deadline_(deadline_ns.has_value()) {
        if (deadline_ns) deadline = *deadline_ns;
    }
    timeout_scope(timeout_scope&&) noexcept = default; // only before it is awaited
    ~timeout_scope() { stop_timer(); }

    void start_timer(event_loop& loop) {
        loop_ = &loop;
        active_ = true;
        if (has_deadline_) loop_->add_timer(this, deadline);
    }
    void stop_timer() noexcept {
        active_ = false;
        if (pending()) loop_->cancel_timer(this);
    }

    event_loop* loop_ = nullptr;
    bool has_deadline_;
    bool expired_ = false;
    bool active_ = false; // the work is running: reschedule arms the timer
};

namespace detail {

/// Runs one child under a timeout_scope. On expiry it cancels the child, waits for it to
/// unwind, then throws timeout_error, unless the child produced a value or another
/// exception anyway (asyncio). Movable only before it is awaited.
template <class T>
class [[nodiscard]] timeout_awaiter : child_group, public timeout_scope {
public:
    timeout_awaiter(task<T> t, std::optional<std::int64_t> deadline_ns) : timeout_awaiter(deadline_ns) {
        child_.emplace(std::move(t));
    }
    timeout_awaiter(timeout_awaiter&&) = default;

    bool await_ready() const noexcept { return false; }

    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
        event_loop& loop = event_loop::current();
        return begin(h, 1, [this, &loop] {
            start_timer(loop);
            child_->start(this);
        });
    }

    /// A cancellation of the awaiting task passes through as cancelled_error, even when
    /// the deadline passed at the same time.
    T await_resume() {
        throw_if_cancelled();
        if (!expired_) return std::move(child_->result()).value();
        try {
            return std::move(child_->result()).value(); // finished in spite of the timeout
        } catch (const cancelled_error&) {
            throw timeout_error();
        }
    }

protected:
    explicit timeout_awaiter(std::optional<std::int64_t> deadline_ns) : timeout_scope(deadline_ns) {
        fire = thunk<timer_node, &timeout_awaiter::on_timeout>;
        child_finished = thunk<child_group, &timeout_awaiter::on_child_finished>;
        cancel_children = thunk<child_group, &timeout_awaiter::on_cancel_children>;
    }

    std::optional<child<T>> child_;

private:
    friend struct dispatch;
    void on_timeout() noexcept {
        expired_ = true;
        child_->cancel();
    }
    void on_child_finished(completion*) noexcept { stop_timer(); }
    void on_cancel_children() noexcept {
        stop_timer();
        child_->cancel();
    }
};

/// The form whose body receives the scope. Not movable: the body refers to the scope and
/// to the callable, both kept here.
template <class T, class F>
class [[nodiscard]] scoped_timeout_awaiter : public timeout_awaiter<T> {
public:
    scoped_timeout_awaiter(F f, std::optional<std::int64_t> deadline_ns)
        : timeout_awaiter<T>(deadline_ns), f_(std::move(f)) {
        this->child_.emplace(into_task(detail::invoke(f_, static_cast<timeout_scope&>(*this))));
    }
    scoped_timeout_awaiter(scoped_timeout_awaiter&&) = delete;

private:
    F f_;
};

template <class A>
auto timeout_with(std::optional<std::int64_t> deadline_ns, A&& work) {
    if constexpr (std::is_invocable_v<std::decay_t<A>&, timeout_scope&>) {
        using T = typename task_for_t<std::invoke_result_t<std::decay_t<A>&, timeout_scope&>>::value_type;
        return scoped_timeout_awaiter<T, std::decay_t<A>>(std::forward<A>(work), deadline_ns);
    } else {
        using T = typename task_for_t<A>::value_type;
        return timeout_awaiter<T>(into_task(std::forward<A>(work)), deadline_ns);
    }
}

template <class Clock, class Duration>
std::int64_t deadline_ns(std::chrono::time_point<Clock, Duration> at) {
    using steady = std::chrono::steady_clock;
    if constexpr (std::is_same_v<Clock, steady>)
        return event_loop::to_ns(std::chrono::ceil<steady::duration>(at.time_since_epoch()) + steady::time_point());
    else
        return event_loop::to_ns(now() + std::chrono::ceil<steady::duration>(at - Clock::now()));
}

} // namespace detail

/// Runs `work` with a deadline `d` from now (asyncio.timeout). `work` is an awaitable, or a
/// callable taking timeout_scope& and returning one (the body can then reschedule()). On
/// expiry the work is cancelled and awaited, then timeout_error is thrown; if the work
/// swallows the cancellation and returns, its value is returned (asyncio). Cancelling the
/// awaiting task cancels the work and throws cancelled_error, even if the deadline passed
/// meanwhile. A zero or negative `d` expires the work at its first suspension.
template <class Rep, class Period, class A>
auto timeout(std::chrono::duration<Rep, Period> d, A&& work) {
    auto at = now() + std::chrono::ceil<std::chrono::steady_clock::duration>(d);
    return detail::timeout_with(event_loop::to_ns(at), std::forward<A>(work));
}

/// As timeout(), with an absolute deadline (asyncio.timeout_at); a steady_clock deadline
/// is kept as given, another clock's is converted once.
template <class Clock, class Duration, class A>
auto timeout_at(std::chrono::time_point<Clock, Duration> at, A&& work) {
    return detail::timeout_with(detail::deadline_ns(at), std::forward<A>(work));
}

/// As timeout_at(), where nullopt means no deadline (until a reschedule() sets one).
template <class A>
auto timeout_at(std::optional<std::chrono::steady_clock::time_point> at, A&& work) {
    std::optional<std::int64_t> ns;
    if (at) ns = event_loop::to_ns(*at);
    return detail::timeout_with(ns, std::forward<A>(work));
}

} // namespace corio
