#pragma once
// Binary min-heap of timers that live in coroutine frames. Each node knows its index, so
// cancelling removes it in O(log n) instead of leaving a tombstone behind.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace corio::detail {

struct timer_node {
    static constexpr std::size_t npos = ~std::size_t(0);
    std::int64_t deadline = 0; // steady_clock, nanoseconds
    std::uint64_t seq = 0;     // equal deadlines fire in the order they were set
    std::size_t index = npos;
    void (*fire)(timer_node*) noexcept = nullptr;
    bool pending() const noexcept { return index != npos; }
};

class timer_heap {
public:
    bool empty() const noexcept { return heap_.empty(); }
    std::size_t size() const noexcept { return heap_.size(); }
    std::int64_t next_deadline() const noexcept { return heap_.front()->deadline; }
    timer_node* top() const noexcept { return heap_.front(); }

    void push(timer_node* n) {
        n->seq = next_seq_++;
        n->index = heap_.size();
        heap_.push_back(n);
        sift_up(n->index);
    }

    void remove(timer_node* n) noexcept {
        std::size_t i = n->index;
        n->index = timer_node::npos;
        timer_node* last = heap_.back();
        heap_.pop_back();
        if (last == n) return;
        place(i, last);
        if (i > 0 && less(last, heap_[(i - 1) / 2]))
            sift_up(i);
        else
            sift_down(i);
    }

    timer_node* pop() noexcept {
        timer_node* n = heap_.front();
        remove(n);
        return n;
    }

private:
    static bool less(const timer_node* a, const timer_node* b) noexcept {
        return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
    }
    void place(std::size_t i, timer_node* n) noexcept {
        heap_[i] = n;
        n->index = i;
    }
    void sift_up(std::size_t i) noexcept {
        timer_node* n = heap_[i];
        while (i > 0) {
            std::size_t parent = (i - 1) / 2;
            if (!less(n, heap_[parent])) break;
            place(i, heap_[parent]);
            i = parent;
        }
        place(i, n);
    }
    void sift_down(std::size_t i) noexcept {
        timer_node* n = heap_[i];
        std::size_t size = heap_.size();
        for (;;) {
            std::size_t child = 2 * i + 1;
            if (child >= size) break;
            if (child + 1 < size && less(heap_[child + 1], heap_[child])) ++child;
            if (!less(heap_[child], n)) break;
            place(i, heap_[child]);
            i = child;
        }
        place(i, n);
    }

    std::vector<timer_node*> heap_;
    std::uint64_t next_seq_ = 0;
};

} // namespace corio::detail
