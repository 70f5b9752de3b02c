#pragma once
// semaphore (asyncio.Semaphore) and bounded_semaphore (asyncio.BoundedSemaphore). A
// released permit goes straight to the first waiter, so nobody can slip in before it.
#include <coroutine>
#include <cstddef>
#include <limits>
#include <stdexcept>

#include "corio/detail/intrusive_list.hpp"
#include "corio/event.hpp"

namespace corio {

/// asyncio.Semaphore: `initial` permits; acquire() waits while none is free, in FIFO
/// order. A waiter cancelled while waiting takes no permit; one cancelled after a permit
/// was handed to it, before it resumed, gives the permit back.
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
    /// Hands the permit to the first waiter, or adds it to value(). Throws
    /// std::logic_error when that would exceed a bounded_semaphore's bound.
    void release() {
        // A permit handed to a woken waiter has left value() already (asyncio takes it
        // out of _value at the wake-up too), so a release too many made before that
        // waiter runs is caught at the waiter's own release.
        if (value_ >= bound_) throw std::logic_error("corio: bounded_semaphore released too many times");
        give_back();
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
            resume_or_undo([this] { s_.give_back(); });
        }

    private:
        semaphore& s_;
    };
    awaiter acquire() noexcept { return awaiter(*this); }

protected:
    semaphore(std::size_t initial, std::size_t bound) noexcept : value_(initial), bound_(bound) {}

private:
    // A permit that was taken returns: it cannot exceed the bound, so no check.
    void give_back() {
        if (waiters_.empty())
            ++value_;
        else
            detail::waiter::wake(waiters_.front()); // the permit goes to the first waiter
    }

    detail::intrusive_list<detail::waiter> waiters_;
    std::size_t value_;
    std::size_t bound_ = std::numeric_limits<std::size_t>::max();
};

/// asyncio.BoundedSemaphore: a semaphore whose release() throws std::logic_error when
/// value() is already at the initial value (asyncio raises ValueError), which catches a
/// release without a matching acquire. The check is in semaphore::release itself, so it
/// holds through a semaphore& as well.
class bounded_semaphore : public semaphore {
public:
    explicit bounded_semaphore(std::size_t initial = 1) noexcept : semaphore(initial, initial) {}
};

} // namespace corio
