#pragma once
// 4-ary min-heap of timers that live in coroutine frames. Each node knows its index, so
// cancelling removes it in O(log n) instead of leaving a tombstone behind. Deadlines sit
// in the heap array beside the node pointers, so sifting never chases a pointer into a
// frame, and four children per node halve the depth, so a pop rewrites half as many
// node indices (each such write is a cache miss into some frame).
#include <cstddef>
#include <cstdint>
#include <vector>

namespace corio::detail {

// 16 bytes: it sits in every sleeping coroutine's frame.
struct timer_node {
    static constexpr std::uint32_t npos = ~std::uint32_t(0);
    void (*fire)(timer_node*) noexcept = nullptr;
    std::uint32_t index = npos;
    std::uint32_t seq = 0; // equal deadlines fire in the order they were set (wraps safely)
    bool pending() const noexcept { return index != npos; }
};

class timer_heap {
public:
    bool empty() const noexcept { return heap_.empty(); }
    std::size_t size() const noexcept { return heap_.size(); }
    std::int64_t next_deadline() const noexcept { return heap_.front().deadline; }
    timer_node* top() const noexcept { return heap_.front().node; }

    void push(timer_node* n, std::int64_t deadline) {
        n->seq = next_seq_++;
        heap_.push_back({deadline, n});
        sift_up(heap_.size() - 1, heap_.back());
    }

    void remove(timer_node* n) noexcept {
        std::size_t i = n->index;
        n->index = timer_node::npos;
        entry last = heap_.back();
        heap_.pop_back();
        if (last.node == n) return;
        if (i > 0 && less(last, heap_[(i - 1) / arity]))
            sift_up(i, last);
        else
            sift_down(i, last);
    }

    timer_node* pop() noexcept {
        timer_node* n = heap_.front().node;
        remove(n);
        return n;
    }

private:
    static constexpr std::size_t arity = 4;
    struct entry {
        std::int64_t deadline; // steady_clock, nanoseconds
        timer_node* node;
    };
    static bool less(const entry& a, const entry& b) noexcept {
        if (a.deadline != b.deadline) return a.deadline < b.deadline;
        return static_cast<std::int32_t>(a.node->seq - b.node->seq) < 0;
    }
    void place(std::size_t i, const entry& e) noexcept {
        heap_[i] = e;
        e.node->index = static_cast<std::uint32_t>(i);
    }
    void sift_up(std::size_t i, entry e) noexcept {
        while (i > 0) {
            std::size_t parent = (i - 1) / arity;
            if (!less(e, heap_[parent])) break;
            place(i, heap_[parent]);
            i = parent;
        }
        place(i, e);
    }
    void sift_down(std::size_t i, entry e) noexcept {
        std::size_t size = heap_.size();
        for (;;) {
            std::size_t first = arity * i + 1;
            if (first >= size) break;
            std::size_t child = first;
            std::size_t end = first + arity < size ? first + arity : size;
            for (std::size_t c = first + 1; c < end; ++c)
                if (less(heap_[c], heap_[child])) child = c;
            if (!less(heap_[child], e)) break;
            place(i, heap_[child]);
            i = child;
        }
        place(i, e);
    }

    std::vector<entry> heap_;
    std::uint32_t next_seq_ = 0;
};

} // namespace corio::detail
