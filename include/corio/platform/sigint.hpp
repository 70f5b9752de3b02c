#pragma once
// run()'s Ctrl-C, without the signal_set machinery: a plain SIGINT handler that notes the
// arrival and wakes the loop's reactor, whose turn then lets run() cancel the main task.
// The handler resets itself on delivery (SA_RESETHAND), so a second SIGINT kills at once.
// A signal_set watching SIGINT overrides it: the set blocks SIGINT in the loop thread
// (signalfd) or ignores it (kqueue) while it exists, so the handler never runs meanwhile.
#include <atomic>
#include <csignal>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/syscall.h>
#elif __has_include(<pthread_np.h>)
#include <pthread_np.h>
#endif

#include "corio/platform/reactor.hpp"

namespace corio::detail {

// asyncio.run only takes over SIGINT on the main thread and only while nobody else has
// installed a handler or asked for it to be ignored (a shell starts background jobs with
// SIGINT ignored); run() follows the same rule.
inline bool on_main_thread() noexcept {
#if defined(__linux__)
    return ::syscall(SYS_gettid) == ::getpid();
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__)
    return ::pthread_main_np() != 0;
#else
    return true;
#endif
}

inline bool has_default_action(int signo) noexcept {
    struct sigaction sa {};
    if (::sigaction(signo, nullptr, &sa) != 0) return false;
    return !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_DFL;
}

// Lets `signo` take its default action against this process now: used by run() to exit
// "killed by SIGINT" once the interrupted program has cleaned up. Returns only if the
// process survives (the signal's default action does not terminate it).
inline void reraise_with_default_action(int signo) noexcept {
    ::signal(signo, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, signo);
    ::raise(signo); // pending if blocked; delivered by the unblock below
    ::pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
}

// Lock-free atomics: the only state a signal handler may touch.
inline std::atomic<reactor*> sigint_reactor{nullptr};
inline std::atomic<bool> sigint_arrived{false};

extern "C" inline void corio_on_sigint(int) {
    sigint_arrived.store(true);
    // Delivered to the loop thread, the signal already interrupts its poll; delivered to
    // another thread (one the program started), it must wake the loop itself.
    if (reactor* r = sigint_reactor.load()) r->wake();
}

// Catches SIGINT for its scope when `wanted` and SIGINT has its default action.
class sigint_catcher {
public:
    sigint_catcher(reactor& r, bool wanted) noexcept {
        if (!wanted || !has_default_action(SIGINT)) return;
        sigint_arrived.store(false);
        sigint_reactor.store(&r);
        struct sigaction sa {};
        sa.sa_handler = &corio_on_sigint;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART | SA_RESETHAND;
        installed_ = ::sigaction(SIGINT, &sa, nullptr) == 0;
        if (!installed_) sigint_reactor.store(nullptr);
    }
    ~sigint_catcher() { release(); }
    sigint_catcher(const sigint_catcher&) = delete;
    sigint_catcher& operator=(const sigint_catcher&) = delete;

    // True once per arrival: the handler has run since the last call.
    // Called every loop turn: a plain load first, the exchange only once one arrived.
    bool take() noexcept {
        return installed_ && sigint_arrived.load(std::memory_order_relaxed) && sigint_arrived.exchange(false);
    }

    // Gives SIGINT back its default action, unless the program installed its own since.
    void release() noexcept {
        if (!installed_) return;
        installed_ = false;
        struct sigaction cur {};
        if (::sigaction(SIGINT, nullptr, &cur) == 0 && !(cur.sa_flags & SA_SIGINFO) &&
            cur.sa_handler == &corio_on_sigint) {
            struct sigaction dfl {};
            dfl.sa_handler = SIG_DFL;
            sigemptyset(&dfl.sa_mask);
            ::sigaction(SIGINT, &dfl, nullptr);
        }
        sigint_reactor.store(nullptr);
    }

private:
    bool installed_ = false;
};

} // namespace corio::detail
