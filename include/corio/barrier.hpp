#pragma once
// barrier (asyncio.Barrier, 3.11): `parties` tasks meet; each wait() returns once all of
// them have arrived, and tasks arriving meanwhile wait for the round to drain.
#include <coroutine>
#include <cstddef>
#include <stdexcept>

#include "corio/detail/intrusive_list.hpp"
#include "corio/errors.hpp"
#include "corio/event.hpp"
#include "corio/task.hpp"

namespace corio {

/// asyncio.Barrier. wait() blocks until `parties` tasks are waiting, then releases them
/// all; each gets its arrival index (0 to parties - 1). A task cancelled while it waits
/// leaves the barrier (n_waiting() drops) without breaking it, as in asyncio. reset() and
/// abort() are plain functions here, not coroutines: there is no lock to take.
class barrier {
public:
    /// Throws std::invalid_argument when `parties` is 0 (asyncio's ValueError).
    explicit barrier(std::size_t parties) : parties_(parties) {
        if (parties == 0) throw std::invalid_argument("corio: a barrier needs at least one party");
    }
    barrier(const barrier&) = delete;
    barrier& operator=(const barrier&) = delete;

    /// Returns this task's arrival index once all parties arrived. Throws
    /// broken_barrier_error if the barrier is broken, or is aborted or reset while the
    /// task waits; cancelled_error if cancelled while waiting (also after being released,
    /// before resuming), and the task is then no longer counted.
    task<std::size_t> wait() {
        while (state_ == state::draining || state_ == state::resetting) co_await parked(blocked_);
        if (state_ == state::broken) throw broken_barrier_error("corio: barrier aborted");
        std::size_t index = count_++;
        if (index + 1 == parties_) {
            state_ = state::draining; // the round is complete: release it
            wake_all(waiting_);
        } else {
            try {
                while (state_ == state::filling) co_await parked(waiting_);
            } catch (...) {
                leave();
                throw;
            }
            if (state_ == state::broken || state_ == state::resetting) {
                leave();
                throw broken_barrier_error("corio: barrier aborted or reset while waiting");
            }
        }
        leave();
        co_return index;
    }

    /// Back to the empty state: tasks waiting get broken_barrier_error, and new arrivals
    /// wait until they have all left. Also mends a broken barrier.
    void reset() {
        if (count_ > 0) state_ = state::resetting;
        else state_ = state::filling;
        wake_all(waiting_);
        wake_all(blocked_);
    }
    /// Breaks the barrier: current and future wait()s throw broken_barrier_error until
    /// reset().
    void abort() {
        state_ = state::broken;
        wake_all(waiting_);
        wake_all(blocked_);
    }

    std::size_t parties() const noexcept { return parties_; }
    /// Tasks waiting for the round to fill (0 while it drains).
    std::size_t n_waiting() const noexcept { return state_ == state::filling ? count_ : 0; }
    bool broken() const noexcept { return state_ == state::broken; }

private:
    enum class state { filling, draining, resetting, broken };

    // A wait for the state to change; what changed is checked on resumption.
    class [[nodiscard]] parked : detail::waiter {
    public:
        explicit parked(detail::intrusive_list<detail::waiter>& list) noexcept : list_(list) {}
        bool await_ready() const noexcept { return false; }
        template <class P>
        bool await_suspend(std::coroutine_handle<P> h) {
            return park(list_, h);
        }
        void await_resume() { resume_or_throw(); }

    private:
        detail::intrusive_list<detail::waiter>& list_;
    };

    static void wake_all(detail::intrusive_list<detail::waiter>& list) {
        while (!list.empty()) detail::waiter::wake(list.front());
    }
    // A task leaves the round; the last one out ends the draining or resetting and lets
    // the tasks that arrived meanwhile in.
    void leave() {
        if (--count_ != 0) return;
        if (state_ == state::draining || state_ == state::resetting) state_ = state::filling;
        wake_all(blocked_);
    }

    std::size_t parties_;
    std::size_t count_ = 0;
    state state_ = state::filling;
    detail::intrusive_list<detail::waiter> blocked_, waiting_;
};

} // namespace corio
