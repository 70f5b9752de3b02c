#pragma once
// condition (asyncio.Condition): tasks wait, with a lock held, until another task holding
// it notifies them. The lock is the condition's own or one shared with the caller.
#include <coroutine>
#include <cstddef>
#include <stdexcept>
#include <type_traits>

#include "corio/detail/intrusive_list.hpp"
#include "corio/errors.hpp"
#include "corio/event.hpp"
#include "corio/lock.hpp"
#include "corio/task.hpp"

namespace corio {

/// asyncio.Condition. wait() and notify() must be called with the lock held (through
/// acquire()/scoped() here, or on the shared lock); otherwise they throw std::logic_error.
class condition {
public:
    /// With a lock of its own.
    condition() noexcept : lock_(&own_) {}
    /// Sharing `l`, which must outlive the condition.
    explicit condition(lock& l) noexcept : lock_(&l) {}
    condition(const condition&) = delete;
    condition& operator=(const condition&) = delete;

    corio::lock& get_lock() noexcept { return *lock_; }
    bool locked() const noexcept { return lock_->locked(); }
    /// The lock's acquire(), scoped() and release().
    lock::awaiter acquire() noexcept { return lock_->acquire(); }
    lock::scoped_awaiter scoped() noexcept { return lock_->scoped(); }
    void release() { lock_->release(); }

    /// Releases the lock, waits for a notify(), then takes the lock back before it
    /// returns, in FIFO order with other tasks acquiring it. Cancelled, it still takes
    /// the lock back (swallowing further cancellations while it waits for it) before
    /// throwing cancelled_error, so the caller's guard stays right. A waiter cancelled
    /// after a notify() reached it, before it resumed, passes the notification to the
    /// next waiter (as CPython 3.13). Throws std::logic_error without the lock.
    task<void> wait() {
        if (!lock_->locked()) throw std::logic_error("corio: condition wait() without holding its lock");
        lock_->release();
        bool cancelled = false;
        try {
            co_await notified(*this);
        } catch (const cancelled_error&) {
            cancelled = true;
        }
        for (;;) {
            try {
                co_await lock_->acquire();
                break;
            } catch (const cancelled_error&) {
                cancelled = true;
            }
        }
        if (cancelled) throw cancelled_error();
    }

    /// Waits (as wait(), lock held) until `pred()` is true, checking it first and after
    /// every wake-up; returns pred's last result. Cancellation as wait().
    template <class Pred>
    task<std::decay_t<std::invoke_result_t<Pred&>>> wait_for(Pred pred) {
        auto result = pred();
        while (!result) {
            co_await wait();
            result = pred();
        }
        co_return result;
    }

    /// Wakes up to `n` waiting tasks, first come first served; each takes the lock back
    /// before its wait() returns. Throws std::logic_error without the lock.
    void notify(std::size_t n = 1) {
        if (!lock_->locked()) throw std::logic_error("corio: condition notify() without holding its lock");
        wake(n);
    }
    /// Wakes every waiting task.
    void notify_all() { notify(static_cast<std::size_t>(-1)); }

private:
    class [[nodiscard]] notified : detail::waiter {
    public:
        explicit notified(condition& c) noexcept : c_(c) {}
        bool await_ready() const noexcept { return false; }
        template <class P>
        bool await_suspend(std::coroutine_handle<P> h) {
            return park(c_.waiters_, h);
        }
        void await_resume() {
            resume_or_undo([this] { c_.wake(1); });
        }

    private:
        condition& c_;
    };

    void wake(std::size_t n) {
        for (; n > 0 && !waiters_.empty(); --n) detail::waiter::wake(waiters_.front());
    }

    lock own_;
    lock* lock_;
    detail::intrusive_list<detail::waiter> waiters_;
};

} // namespace corio
