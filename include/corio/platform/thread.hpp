#pragma once
// The OS's view of threads, for the loop and the worker pool: a thread's kernel id (error
// messages name the loop's thread) and the signal mask of worker threads.
#include <csignal>

#include <pthread.h>
#include <signal.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace corio::detail {

// The calling thread's id as the kernel and tools (top, gdb) show it; 0 where unknown.
inline long current_thread_id() noexcept {
#if defined(__linux__)
    return static_cast<long>(::syscall(SYS_gettid));
#else
    return 0;
#endif
}

// Blocks the asynchronous signals in the calling thread for its scope. Threads started
// inside the scope inherit the mask, so a process-directed signal (SIGINT, SIGTERM, ...)
// is never delivered to them, where it would act by default, but stays for the loop
// thread's watcher. Signals raised by a fault in the thread itself stay unblocked, so a
// crash in a worker still reaches crash handlers (sanitizers, debuggers).
class async_signals_blocked {
public:
    async_signals_blocked() noexcept {
        sigset_t set;
        sigfillset(&set);
        for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS}) sigdelset(&set, s);
        ::pthread_sigmask(SIG_BLOCK, &set, &saved_);
    }
    ~async_signals_blocked() { ::pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
    async_signals_blocked(const async_signals_blocked&) = delete;
    async_signals_blocked& operator=(const async_signals_blocked&) = delete;

private:
    sigset_t saved_;
};

} // namespace corio::detail
