#pragma once
// event (asyncio.Event) and the waiter the other primitives in sync.hpp share; apart
// from them so the streams and servers that only need an event skip the rest (<deque>).
#include <coroutine>

#include "corio/detail/intrusive_list.hpp"
#include "corio/detail/operation.hpp"
#include "corio/detail/scheduler.hpp"
#include "corio/errors.hpp"

namespace corio {

namespace detail {

struct waiter : list_hook, cancellable {
    std::coroutine_handle<> handle;

    waiter() = default;
    waiter(const waiter&) = delete;
    /// Only before it is queued (an awaiter handed to spawn or gather moves).
    waiter(waiter&& o) noexcept : list_hook(), cancellable(o), handle(o.handle) {}
    ~waiter() {
        if (linked()) intrusive_list<waiter>::erase(*this);
    }

    /// Queues on `list` and arms cancellation; false if a cancel was already pending.
    template <class P>
    bool park(intrusive_list<waiter>& list, std::coroutine_handle<P> h) {
        handle = h;
        if (!arm(slot_of(h), thunk<operation, &waiter::on_cancel>)) return false;
        list.push_back(*this);
        return true;
    }
    /// Completes the wait: from here on a cancel can no longer undo it.
    static void wake(waiter& w) {
        intrusive_list<waiter>::erase(w);
        w.disarm();
        current_scheduler().post(w.handle);
    }
    /// Ends a wait that has nothing to undo (an event).
    void resume_or_throw() { throw_if_cancelled_on_resume(); }
    /// Ends a wait whose wake-up handed something over: a cancellation that arrived after
    /// the wake-up gives it back through `undo` before it is delivered.
    template <class Undo>
    void resume_or_undo(Undo&& undo) {
        bool late = cancelled_after_wake();
        if (cancelled) throw cancelled_error();
        if (late) {
            undo();
            throw cancelled_error();
        }
    }

private:
    friend struct dispatch;
    void on_cancel() noexcept {
        if (linked()) intrusive_list<waiter>::erase(*this);
        cancelled = true;
        current_scheduler_ptr->post(handle);
    }
};

} // namespace detail

/// asyncio.Event
class event {
public:
    bool is_set() const noexcept { return set_; }
    void set() {
        set_ = true;
        while (!waiters_.empty()) detail::waiter::wake(waiters_.front());
    }
    void clear() noexcept { set_ = false; }

    class [[nodiscard]] awaiter : detail::waiter {
    public:
        explicit awaiter(event& e) noexcept : e_(e) {}
        bool await_ready() const noexcept { return e_.set_; }
        template <class P>
        bool await_suspend(std::coroutine_handle<P> h) {
            return park(e_.waiters_, h);
        }
        void await_resume() { resume_or_throw(); }

    private:
        event& e_;
    };
    awaiter wait() noexcept { return awaiter(*this); }

private:
    detail::intrusive_list<detail::waiter> waiters_;
    bool set_ = false;
};

} // namespace corio
