#pragma once
// The ready queue and the thread's current scheduler: all that task-level code (gather,
// sync primitives) needs from the loop, without pulling in the reactor or any OS header.
#include <coroutine>
#include <cstddef>
#include <memory>
#include <stdexcept>

namespace corio::detail {

struct ready_item {
    void (*fn)(void*);
    void* arg;
};

// Ring buffer; grows by doubling, never shrinks, so steady state allocates nothing.
class ready_queue {
public:
    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }

    void push(ready_item item) {
        if (size_ == cap_) grow();
        items_[(head_ + size_) & (cap_ - 1)] = item;
        ++size_;
    }
    ready_item pop() noexcept {
        ready_item item = items_[head_];
        head_ = (head_ + 1) & (cap_ - 1);
        --size_;
        return item;
    }

private:
    void grow() {
        std::size_t cap = cap_ ? cap_ * 2 : 256;
        auto items = std::make_unique<ready_item[]>(cap);
        for (std::size_t i = 0; i < size_; ++i) items[i] = items_[(head_ + i) & (cap_ - 1)];
        items_ = std::move(items);
        cap_ = cap;
        head_ = 0;
    }
    std::unique_ptr<ready_item[]> items_;
    std::size_t cap_ = 0, head_ = 0, size_ = 0;
};

class scheduler {
public:
    void post(std::coroutine_handle<> h) { ready_.push({&resume_handle, h.address()}); }
    void post(void (*fn)(void*), void* arg) { ready_.push({fn, arg}); }

protected:
    // Runs what was ready when called; what those items make ready waits for the next
    // turn, so I/O and timers are polled between batches (asyncio's fairness).
    void run_ready_batch() {
        for (std::size_t n = ready_.size(); n > 0; --n) {
            ready_item item = ready_.pop();
            item.fn(item.arg);
        }
    }
    ready_queue ready_;

    static bool is_resumption(const ready_item& item) noexcept { return item.fn == &resume_handle; }

private:
    static void resume_handle(void* address) {
        std::coroutine_handle<>::from_address(address).resume();
    }
};

inline thread_local scheduler* current_scheduler_ptr = nullptr;

inline scheduler& current_scheduler() {
    if (!current_scheduler_ptr)
        throw std::logic_error("corio: no event loop is running on this thread (use corio::run)");
    return *current_scheduler_ptr;
}

} // namespace corio::detail
