#pragma once
// event, lock, semaphore and queue with asyncio's semantics: FIFO wake-up, waits that
// can be cancelled and leave the primitive consistent. Ownership (a lock, a permit, an
// item) is handed straight to the woken waiter, so nobody can slip in between.
#include <coroutine>
#include <cstddef>
#include <deque>
#include <optional>
#include <stdexcept>
#include <utility>

#include "corio/detail/intrusive_list.hpp"
#include "corio/detail/operation.hpp"
#include "corio/detail/scheduler.hpp"
#include "corio/errors.hpp"
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

/// asyncio.Semaphore
class semaphore {
public:
    explicit semaphore(std::size_t initial = 1) noexcept : value_(initial) {}

    std::size_t value() const noexcept { return value_; }
    bool locked() const noexcept { return value_ == 0; }
    bool try_acquire() noexcept {
        if (value_ == 0 || !waiters_.empty()) return false;
        --value_;
        return true;
    }
    void release() {
        if (waiters_.empty())
            ++value_;
        else
            detail::waiter::wake(waiters_.front()); // the permit goes to the first waiter
    }

    class [[nodiscard]] awaiter : detail::waiter {
    public:
        explicit awaiter(semaphore& s) noexcept : s_(s) {}
        bool await_ready() noexcept { return s_.try_acquire(); }
        template <class P>
        bool await_suspend(std::coroutine_handle<P> h) {
            return park(s_.waiters_, h);
        }
        /// Cancelled after a permit was handed over: the permit is given back.
        void await_resume() {
            resume_or_undo([this] { s_.release(); });
        }

    private:
        semaphore& s_;
    };
    awaiter acquire() noexcept { return awaiter(*this); }

private:
    detail::intrusive_list<detail::waiter> waiters_;
    std::size_t value_;
};

class queue_empty : public std::runtime_error {
public:
    queue_empty() : std::runtime_error("corio: queue is empty") {}
};
class queue_full : public std::runtime_error {
public:
    queue_full() : std::runtime_error("corio: queue is full") {}
};

/// asyncio.Queue: maxsize 0 means unbounded. put waits while full, get while empty.
template <class T>
class queue {
public:
    explicit queue(std::size_t maxsize = 0) : maxsize_(maxsize) {}

    std::size_t qsize() const noexcept { return items_.size(); }
    std::size_t maxsize() const noexcept { return maxsize_; }
    bool empty() const noexcept { return items_.empty(); }
    /// Places promised to woken putters count: nobody slips in before them.
    bool full() const noexcept { return maxsize_ != 0 && items_.size() + reserved_ >= maxsize_; }

    void put_nowait(T item) {
        if (full() || !putters_.empty()) throw queue_full();
        push(std::move(item));
    }

    T get_nowait() {
        if (items_.empty()) throw queue_empty();
        T item = std::move(items_.front());
        items_.pop_front();
        wake_putter();
        return item;
    }

    class [[nodiscard]] putter : detail::waiter {
    public:
        putter(queue& q, T item) : q_(q), item_(std::move(item)) {}
        bool await_ready() {
            if (!q_.putters_.empty() || q_.full()) return false;
            q_.put_nowait(std::move(item_));
            return true;
        }
        template <class P>
        bool await_suspend(std::coroutine_handle<P> h) {
            parked_ = true;
            return park(q_.putters_, h);
        }
        /// Woken with a place reserved; the item goes in now, unless the put was cancelled
        /// after the wake-up: then the place passes to the next putter.
        void await_resume() {
            if (!parked_) return; // put without waiting
            if (!cancelled) --q_.reserved_; // woken, so the place is this putter's
            resume_or_undo([this] { q_.wake_putter(); });
            q_.push(std::move(item_));
        }

    private:
        friend class queue;
        queue& q_;
        T item_;
        bool parked_ = false;
    };

    class [[nodiscard]] getter : detail::waiter {
    public:
        explicit getter(queue& q) noexcept : q_(q) {}
        bool await_ready() const noexcept { return !q_.items_.empty(); }
        template <class P>
        bool await_suspend(std::coroutine_handle<P> h) {
            return park(q_.getters_, h);
        }
        /// Cancelled after an item was handed over: the item goes back to the head of the
        /// queue (or to the next getter), so no item is lost.
        T await_resume() {
            resume_or_undo([this] { q_.give_back(std::move(*slot_)); });
            if (slot_) return std::move(*slot_);
            return q_.get_nowait();
        }

    private:
        friend class queue;
        queue& q_;
        std::optional<T> slot_;
    };

    putter put(T item) { return putter(*this, std::move(item)); }
    getter get() noexcept { return getter(*this); }

    /// asyncio's task_done()/join(): join waits until every item put has been processed.
    void task_done() {
        if (unfinished_ == 0) throw std::logic_error("corio: task_done() called too many times");
        if (--unfinished_ == 0) all_done_.set();
    }
    event::awaiter join() {
        if (unfinished_ == 0) all_done_.set();
        else all_done_.clear();
        return all_done_.wait();
    }

private:
    // An item enters: straight to the first getter waiting, or at the back.
    void push(T&& item) {
        if (!hand_to_getter(item)) items_.push_back(std::move(item));
        ++unfinished_;
    }
    // An item handed to a getter that was cancelled before it resumed: first in line again.
    void give_back(T&& item) {
        if (!hand_to_getter(item)) items_.push_front(std::move(item));
    }
    // To the first getter waiting, if there is one.
    bool hand_to_getter(T& item) {
        if (getters_.empty()) return false;
        getter& g = static_cast<getter&>(getters_.front());
        g.slot_.emplace(std::move(item));
        detail::waiter::wake(g);
        return true;
    }
    /// Room now: the first waiting putter gets a place, and puts its item when it resumes.
    void wake_putter() {
        if (putters_.empty() || full()) return;
        ++reserved_;
        detail::waiter::wake(putters_.front());
    }

    std::deque<T> items_;
    detail::intrusive_list<detail::waiter> getters_, putters_;
    std::size_t reserved_ = 0;
    std::size_t maxsize_;
    std::size_t unfinished_ = 0;
    event all_done_;
};

} // namespace corio
