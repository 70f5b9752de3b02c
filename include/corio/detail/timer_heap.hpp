#pragma once
// The loop's timers: a FIFO for deadlines that arrive in order, and a 4-ary min-heap for
// the rest. Most timers are "now + the same duration" (sleep(1s) from many tasks, one
// timeout per request), so their deadlines never decrease: the FIFO takes them with no
// sifting, and pops them without touching any other frame. A heap pop rewrites the index
// of every node on its path, and each such write is a cache miss into some frame.
// Each node knows where it is, so cancelling is O(log n) in the heap and O(1) in the FIFO
// (a hole, dropped when the ring fills up).
// Heap entries keep the deadline beside the node pointer, so sifting never chases a
// pointer into a frame; four children per node halve the depth.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

namespace corio::detail {

// 24 bytes: it sits in every sleeping coroutine's frame.
struct timer_node {
    static constexpr std::uint32_t npos = ~std::uint32_t(0);
    void (*fire)(timer_node*) noexcept = nullptr;
    std::int64_t deadline = 0; // steady_clock, nanoseconds
    std::uint32_t index = npos; // heap index, or fifo_bit | FIFO position
    std::uint32_t seq = 0; // equal deadlines fire in the order they were set (wraps safely)
    bool pending() const noexcept { return index != npos; }
};

class timer_heap {
public:
    bool empty() const noexcept { return heap_.empty() && fifo_live_ == 0; }
    std::size_t size() const noexcept { return heap_.size() + fifo_live_; }
    std::int64_t next_deadline() const noexcept { return top()->deadline; }
    timer_node* top() const noexcept {
        if (fifo_live_ == 0) return heap_.front().node;
        timer_node* f = ring_[head_ & mask_];
        if (heap_.empty() || before(f, heap_.front().node)) return f;
        return heap_.front().node;
    }

    void push(timer_node* n, std::int64_t deadline) {
        n->seq = next_seq_++;
        n->deadline = deadline;
        if (deadline >= fifo_last_) {
            fifo_last_ = deadline;
            fifo_push(n);
            return;
        }
        heap_.push_back({deadline, n});
        sift_up(heap_.size() - 1, heap_.back());
    }

    void remove(timer_node* n) noexcept {
        if (n->index & fifo_bit)
            fifo_remove(n);
        else
            heap_remove(n);
    }

    timer_node* pop() noexcept {
        timer_node* n = top();
        remove(n);
        return n;
    }

private:
    static constexpr std::size_t arity = 4;
    // FIFO positions count pushes (wrapping); the ring's capacity divides pos_mask + 1.
    static constexpr std::uint32_t fifo_bit = 0x8000'0000u;
    static constexpr std::uint32_t pos_mask = 0x3fff'ffffu;
    struct entry {
        std::int64_t deadline;
        timer_node* node;
    };
    static bool before(const timer_node* a, const timer_node* b) noexcept {
        if (a->deadline != b->deadline) return a->deadline < b->deadline;
        return static_cast<std::int32_t>(a->seq - b->seq) < 0;
    }
    static bool less(const entry& a, const entry& b) noexcept {
        if (a.deadline != b.deadline) return a.deadline < b.deadline;
        return static_cast<std::int32_t>(a.node->seq - b.node->seq) < 0;
    }

    // FIFO: a ring of node pointers indexed by position; holes are null.
    void fifo_push(timer_node* n) {
        if (tail_ - head_ == capacity_) fifo_make_room();
        n->index = fifo_bit | (tail_ & pos_mask);
        ring_[tail_ & mask_] = n;
        ++tail_;
        ++fifo_live_;
    }
    void fifo_remove(timer_node* n) noexcept {
        ring_[n->index & mask_] = nullptr;
        n->index = timer_node::npos;
        --fifo_live_;
        while (head_ != tail_ && !ring_[head_ & mask_]) ++head_;
        if (fifo_live_ == 0) {
            head_ = tail_ = 0;
            fifo_last_ = INT64_MIN;
        }
    }
    // Full: drop the holes if they are at least half, else double the ring.
    void fifo_make_room() {
        std::uint32_t used = tail_ - head_;
        std::size_t cap = fifo_live_ * 2 <= used && used > 0 ? capacity_ : (capacity_ ? capacity_ * 2 : 64);
        if (cap > std::size_t(pos_mask) + 1) throw std::length_error("corio: too many timers");
        std::unique_ptr<timer_node*[]> ring(new timer_node*[cap]);
        std::uint32_t out = 0;
        for (std::uint32_t p = head_; p != tail_; ++p)
            if (timer_node* n = ring_[p & mask_]) {
                n->index = fifo_bit | out;
                ring[out++] = n;
            }
        ring_ = std::move(ring);
        capacity_ = static_cast<std::uint32_t>(cap);
        mask_ = capacity_ - 1;
        head_ = 0;
        tail_ = out;
    }

    void heap_remove(timer_node* n) noexcept {
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
    std::unique_ptr<timer_node*[]> ring_;
    std::uint32_t capacity_ = 0, mask_ = 0;
    std::uint32_t head_ = 0, tail_ = 0; // positions, wrapping
    std::size_t fifo_live_ = 0;
    std::int64_t fifo_last_ = INT64_MIN; // the FIFO's latest deadline: later ones may append
    std::uint32_t next_seq_ = 0;
};

} // namespace corio::detail
