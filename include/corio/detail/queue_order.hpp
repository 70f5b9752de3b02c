#pragma once
// The order a queue hands its items out in: the only thing asyncio's Queue, LifoQueue and
// PriorityQueue differ by. basic_queue (queue.hpp) does the waiting, the hand-off and the
// cancellation once, over any of these.
#include <algorithm>
#include <cstddef>
#include <deque>
#include <utility>
#include <vector>

namespace corio::detail {

// First in, first out (asyncio.Queue).
template <class T>
class fifo_order {
public:
    void push(T&& item) { items_.push_back(std::move(item)); }
    // An item handed to a getter comes back (the getter was cancelled before it resumed).
    // Getters only wait while the queue is empty, so every item queued now arrived after
    // it: it goes where the oldest item goes, here the next one out again.
    void push_oldest(T&& item) { items_.push_front(std::move(item)); }
    T pop() {
        T item = std::move(items_.front());
        items_.pop_front();
        return item;
    }
    std::size_t size() const noexcept { return items_.size(); }
    void clear() noexcept { items_.clear(); }

private:
    std::deque<T> items_;
};

// Last in, first out (asyncio.LifoQueue).
template <class T>
class lifo_order {
public:
    void push(T&& item) { items_.push_back(std::move(item)); }
    // Under the items put after it, as in asyncio, where it never left the queue.
    void push_oldest(T&& item) { items_.push_front(std::move(item)); }
    T pop() {
        T item = std::move(items_.back());
        items_.pop_back();
        return item;
    }
    std::size_t size() const noexcept { return items_.size(); }
    void clear() noexcept { items_.clear(); }

private:
    std::deque<T> items_;
};

// Smallest first by `Compare` (asyncio.PriorityQueue, a heapq min-heap): comp(a, b) means
// a comes out before b. A binary heap, so items comparing equal come out in no set order.
template <class T, class Compare>
class priority_order {
public:
    priority_order() = default;
    explicit priority_order(Compare comp) : comp_(std::move(comp)) {}

    void push(T&& item) {
        items_.push_back(std::move(item));
        std::push_heap(items_.begin(), items_.end(), later());
    }
    // Where its priority puts it.
    void push_oldest(T&& item) { push(std::move(item)); }
    T pop() {
        std::pop_heap(items_.begin(), items_.end(), later());
        T item = std::move(items_.back());
        items_.pop_back();
        return item;
    }
    std::size_t size() const noexcept { return items_.size(); }
    void clear() noexcept { items_.clear(); }

private:
    // std's heap algorithms put the greatest first: reversing the comparison puts the
    // smallest there.
    auto later() {
        return [this](const T& a, const T& b) { return comp_(b, a); };
    }

    std::vector<T> items_;
    Compare comp_{};
};

} // namespace corio::detail
