#pragma once
// lock (asyncio.Lock): FIFO, and released straight into the first waiter's hands, so
// nobody can slip in between the release and the waiter's resumption.
#include <coroutine>
#include <stdexcept>
#include <utility>

#include "corio/detail/intrusive_list.hpp"
#include "corio/event.hpp"

namespace corio {

/// asyncio.Lock. `co_await l.acquire()` then `l.release()`, or hold the guard from
/// `co_await l.scoped()`.
class lock {
public:
    bool locked() const noexcept { return locked_; }
    bool try_acquire() noexcept {
        if (locked_) return false;
        locked_ = true;
        return true;
    }
    void release() {
        if (!locked_) throw std::logic_error("corio: lock released while not locked");
        if (waiters_.empty())
            locked_ = false;
        else
            detail::waiter::wake(waiters_.front()); // stays locked: ownership moves on
    }

    class [[nodiscard]] awaiter : detail::waiter {
    public:
        explicit awaiter(lock& l) noexcept : l_(l) {}
        bool await_ready() noexcept { return l_.waiters_.empty() && l_.try_acquire(); }
        template <class P>
        bool await_suspend(std::coroutine_handle<P> h) {
            return park(l_.waiters_, h);
        }
        /// Cancelled after the lock was handed over: it goes to the next waiter, or is freed.
        void await_resume() {
            resume_or_undo([this] { l_.release(); });
        }

    private:
        lock& l_;
    };
    awaiter acquire() noexcept { return awaiter(*this); }

    class guard {
    public:
        explicit guard(lock& l) noexcept : l_(&l) {}
        guard(guard&& o) noexcept : l_(std::exchange(o.l_, nullptr)) {}
        guard& operator=(guard&&) = delete;
        ~guard() {
            if (l_) l_->release();
        }
        void unlock() { std::exchange(l_, nullptr)->release(); }

    private:
        lock* l_;
    };
    class [[nodiscard]] scoped_awaiter : public awaiter {
    public:
        using awaiter::awaiter;
        explicit scoped_awaiter(lock& l) noexcept : awaiter(l), owner_(l) {}
        guard await_resume() {
            awaiter::await_resume();
            return guard(owner_);
        }

    private:
        lock& owner_;
    };
    scoped_awaiter scoped() noexcept { return scoped_awaiter(*this); }

private:
    detail::intrusive_list<detail::waiter> waiters_;
    bool locked_ = false;
};

} // namespace corio
