#pragma once
// queue, lifo_queue and priority_queue (asyncio.Queue, LifoQueue, PriorityQueue): one
// basic_queue over the order its items come out in (detail/queue_order.hpp). An item
// put while a getter waits goes straight into that getter's hands, and room made while
// putters wait is reserved for the first of them, so nobody slips in between.
#include <coroutine>
#include <cstddef>
#include <functional>
#include <optional>
#include <stdexcept>
#include <utility>

#include "corio/detail/intrusive_list.hpp"
#include "corio/detail/queue_order.hpp"
#include "corio/errors.hpp"
#include "corio/event.hpp"

namespace corio {

/// get_nowait() on an empty queue (asyncio.QueueEmpty).
class queue_empty : public std::runtime_error {
public:
    queue_empty() : std::runtime_error("corio: queue is empty") {}
};
/// put_nowait() on a full queue, or while putters wait (asyncio.QueueFull).
class queue_full : public std::runtime_error {
public:
    queue_full() : std::runtime_error("corio: queue is full") {}
};

/// A queue handing items out in the order `Order` keeps (see queue, lifo_queue,
/// priority_queue). maxsize 0 means unbounded; put waits while full, get while empty.
template <class T, class Order>
class basic_queue {
public:
    explicit basic_queue(std::size_t maxsize = 0) : maxsize_(maxsize) {}
    basic_queue(std::size_t maxsize, Order order) : items_(std::move(order)), maxsize_(maxsize) {}

    std::size_t qsize() const noexcept { return items_.size(); }
    std::size_t maxsize() const noexcept { return maxsize_; }
    bool empty() const noexcept { return items_.size() == 0; }
    /// Places promised to woken putters count: nobody slips in before them.
    bool full() const noexcept { return maxsize_ != 0 && items_.size() + reserved_ >= maxsize_; }
    /// Whether shutdown() was called.
    bool is_shutdown() const noexcept { return shut_down_; }

    /// Throws queue_shut_down after shutdown(), queue_full when full or putters wait.
    void put_nowait(T item) {
        if (shut_down_) throw queue_shut_down();
        if (full() || !putters_.empty()) throw queue_full();
        push(std::move(item));
    }

    /// Throws queue_empty when empty, queue_shut_down when empty after shutdown() (or
    /// at once after shutdown(true), which emptied it).
    T get_nowait() {
        if (empty()) {
            if (shut_down_) throw queue_shut_down();
            throw queue_empty();
        }
        T item = items_.pop();
        wake_putter();
        return item;
    }

    class [[nodiscard]] putter : detail::waiter {
    public:
        putter(basic_queue& q, T item) : q_(q), item_(std::move(item)) {}
        /// After shutdown() the put throws queue_shut_down without waiting.
        bool await_ready() {
            if (!q_.shut_down_ && (!q_.putters_.empty() || q_.full())) return false;
            q_.put_nowait(std::move(item_));
            return true;
        }
        template <class P>
        bool await_suspend(std::coroutine_handle<P> h) {
            parked_ = true;
            return park(q_.putters_, h);
        }
        /// Woken with a place reserved, the item goes in now; cancelled after that wake-up,
        /// the place passes to the next putter. Woken by shutdown() (or resumed after it),
        /// throws queue_shut_down and the item is not put.
        void await_resume() {
            if (!parked_) return; // put without waiting
            if (placed_) --q_.reserved_;
            resume_or_undo([this] { q_.wake_putter(); });
            if (q_.shut_down_) throw queue_shut_down();
            q_.push(std::move(item_));
        }

    private:
        friend class basic_queue;
        basic_queue& q_;
        T item_;
        bool parked_ = false;
        bool placed_ = false; // woken holding a reserved place
    };

    class [[nodiscard]] getter : detail::waiter {
    public:
        explicit getter(basic_queue& q) noexcept : q_(q) {}
        bool await_ready() const noexcept { return !q_.empty() || q_.shut_down_; }
        template <class P>
        bool await_suspend(std::coroutine_handle<P> h) {
            return park(q_.getters_, h);
        }
        /// Cancelled after an item was handed over: the item goes back where it would be
        /// had it stayed queued (or to the next getter), so no item is lost. An empty queue after
        /// shutdown() throws queue_shut_down, also to getters waiting when it came.
        T await_resume() {
            resume_or_undo([this] {
                if (slot_) q_.give_back(std::move(*slot_));
            });
            if (slot_) return std::move(*slot_);
            return q_.get_nowait();
        }

    private:
        friend class basic_queue;
        basic_queue& q_;
        std::optional<T> slot_;
    };

    putter put(T item) { return putter(*this, std::move(item)); }
    getter get() noexcept { return getter(*this); }

    /// asyncio's task_done()/join(): join waits until every item put has been processed.
    /// task_done() throws std::logic_error when called more often than items were put.
    void task_done() {
        if (unfinished_ == 0) throw std::logic_error("corio: task_done() called too many times");
        if (--unfinished_ == 0) all_done_.set();
    }
    event::awaiter join() {
        if (unfinished_ == 0) all_done_.set();
        else all_done_.clear();
        return all_done_.wait();
    }

    /// asyncio.Queue.shutdown (3.13). From now on put and put_nowait throw
    /// queue_shut_down, and so do get and get_nowait once the queue is empty; waiting
    /// putters and getters wake with it. With `immediate` the items still queued are
    /// dropped, each counting as task_done() (which may end a join()); otherwise getters
    /// drain them first. An item already handed to a woken getter stays that getter's.
    void shutdown(bool immediate = false) {
        shut_down_ = true;
        if (immediate) {
            immediate_ = true;
            while (!empty()) {
                (void)items_.pop();
                drop_one();
            }
            if (unfinished_ == 0) all_done_.set();
        }
        while (!getters_.empty()) detail::waiter::wake(getters_.front());
        while (!putters_.empty()) detail::waiter::wake(putters_.front());
    }

private:
    // An item enters: straight to the first getter waiting, or into the queue.
    void push(T&& item) {
        if (!hand_to_getter(item)) items_.push(std::move(item));
        ++unfinished_;
    }
    // An item handed to a getter that was cancelled before it resumed: back where it
    // would be had it stayed queued (the next one out, for a FIFO queue), unless an immediate shutdown came meanwhile, which drops it as it dropped
    // the rest.
    void give_back(T&& item) {
        if (immediate_) {
            drop_one();
            if (unfinished_ == 0) all_done_.set();
            return;
        }
        if (!hand_to_getter(item)) items_.push_oldest(std::move(item));
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
        putter& p = static_cast<putter&>(putters_.front());
        p.placed_ = true;
        detail::waiter::wake(p);
    }
    // As CPython 3.13: a dropped item counts as done, never below zero.
    void drop_one() noexcept {
        if (unfinished_ > 0) --unfinished_;
    }

    Order items_;
    detail::intrusive_list<detail::waiter> getters_, putters_;
    std::size_t reserved_ = 0;
    std::size_t maxsize_;
    std::size_t unfinished_ = 0;
    event all_done_;
    bool shut_down_ = false;
    bool immediate_ = false;
};

/// asyncio.Queue: first in, first out.
template <class T>
class queue : public basic_queue<T, detail::fifo_order<T>> {
public:
    using basic_queue<T, detail::fifo_order<T>>::basic_queue;
};

/// asyncio.LifoQueue: the item put last comes out first.
template <class T>
class lifo_queue : public basic_queue<T, detail::lifo_order<T>> {
public:
    using basic_queue<T, detail::lifo_order<T>>::basic_queue;
};

/// asyncio.PriorityQueue: the smallest item by `Compare` comes out first, as from heapq
/// (the opposite of std::priority_queue, whose top is the greatest). Items comparing
/// equal come out in no set order: give them a sequence number to keep one.
template <class T, class Compare = std::less<T>>
class priority_queue : public basic_queue<T, detail::priority_order<T, Compare>> {
public:
    using base = basic_queue<T, detail::priority_order<T, Compare>>;
    explicit priority_queue(std::size_t maxsize = 0, Compare comp = Compare())
        : base(maxsize, detail::priority_order<T, Compare>(std::move(comp))) {}
};

} // namespace corio
