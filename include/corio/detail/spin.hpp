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

// Spinning only pays when the thread being waited for can run meanwhile: never on a
// process confined to one CPU, where it would only delay that thread.
inline bool spinning_pays() noexcept {
    static const bool pays = [] {
#if defined(__linux__)
        cpu_set_t set;
        if (::sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set) > 1;
#endif
        return ::sysconf(_SC_NPROCESSORS_ONLN) > 1;
    }();
    return pays;
}

// Polls `ready` until it returns true (then true) or about budget_ns have passed (then
// false). Every microsecond or so it reads the clock and yields the CPU: when the thread
// it waits for was scheduled on the same CPU (the other one busy with other work), that
// thread runs now instead of after the budget, and the handoff costs two context switches
// rather than two budgets. With nothing else runnable, sched_yield returns at once.
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
        ::sched_yield();
    }
}

} // namespace corio::detail
