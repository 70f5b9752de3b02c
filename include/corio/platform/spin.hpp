#pragma once
// Bounded busy-waiting for a cross-thread handoff that is expected within microseconds.
// Blocking on a futex or in epoll_wait lets the CPU go idle, and on a VM waking an idle
// vCPU costs about 25 us; a thread that polls instead sees the handoff within a cache-line
// transfer. The poll pauses between checks (kinder to a sibling hyperthread and to the
// hypervisor) and gives up after a few tens of microseconds, so an idle thread still sleeps.
#include <cstdint>

#include <sched.h>
#include <unistd.h>

#include "corio/detail/chrono.hpp"

namespace corio::detail {

// How long a thread polls for the next handoff before it blocks. About twice a cold
// wake-up on a VM: longer buys little, shorter misses jobs that take a few microseconds.
inline constexpr std::int64_t spin_budget_ns = 50'000;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

// Adapts polling to how it fares. When the thread being waited for shares the poller's
// CPU (the scheduler put both there, the other CPU being busy), polling can only fail,
// and each failure costs a whole budget: after one, the next `skip` chances to poll are
// passed over, doubling up to 256, so a failing pattern costs under 0.2 us per handoff
// on average and is still retried now and then. One success resets it.
class spin_backoff {
public:
    // One chance to poll: true to take it.
    bool allow() noexcept {
        if (skip_ == 0) return true;
        --skip_;
        return false;
    }
    void record(bool success) noexcept {
        if (success) {
            next_ = 1;
        } else {
            skip_ = next_;
            if (next_ < 256) next_ *= 2;
        }
    }

private:
    unsigned skip_ = 0, next_ = 1;
};

// The CPUs this process may run on (read once). Polling only pays while the thread being
// waited for has a CPU besides the poller's: callers compare this with the threads that
// want to run, and never poll on a single CPU, where it would only delay that thread.
inline long usable_cpus() noexcept {
    static const long n = [] {
#if defined(__linux__)
        cpu_set_t set;
        if (::sched_getaffinity(0, sizeof set, &set) == 0) return static_cast<long>(CPU_COUNT(&set));
#endif
        long online = ::sysconf(_SC_NPROCESSORS_ONLN);
        return online > 0 ? online : 1L;
    }();
    return n;
}

// Polls `ready` until it returns true (then true) or about budget_ns have passed (then
// false). No sched_yield: when a busy thread shares the CPU, yielding hands it a whole
// time slice (a test with a busy-waiting thread ran 6x slower).
template <class Ready>
bool spin_until(Ready ready, std::int64_t budget_ns) noexcept {
    using clock = std::chrono::steady_clock;
    if (ready()) return true;
    const clock::time_point deadline = clock::now() + std::chrono::nanoseconds(budget_ns);
    for (;;) {
        for (int i = 0; i < 32; ++i) {
            cpu_relax();
            if (ready()) return true;
        }
        if (clock::now() >= deadline) return false;
    }
}

} // namespace corio::detail
