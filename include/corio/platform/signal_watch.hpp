#pragma once
// The OS side of signal watching: a descriptor that becomes readable when a watched signal
// arrives, so signals reach coroutines through the reactor like any other event.
//
// Linux: one signalfd. A watched signal is blocked in the loop thread (the only way
// signalfd can see it instead of its disposition acting), and unblocked again when the
// last watcher lets go, unless it was blocked before. Worker threads must keep every
// signal blocked, or a process-directed signal would be delivered to them instead.
//
// macOS/BSD: a private kqueue with EVFILT_SIGNAL filters, itself watched by the loop's
// reactor. kqueue notes a delivery attempt even for an ignored signal, so a watched signal
// is set to SIG_IGN while watched and its previous action restored afterwards. This
// variant is written to the same interface but cannot be built on the Linux machines the
// project is tested on.
#include <cerrno>
#include <csignal>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <system_error>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

// CORIO_SIGNAL_KQUEUE forces the kqueue variant (to compile-check it elsewhere).
#if defined(__linux__) && !defined(CORIO_SIGNAL_KQUEUE)
#include <sys/signalfd.h>
#define CORIO_SIGNAL_SIGNALFD 1
#elif __has_include(<sys/event.h>)
#include <fcntl.h>
#include <sys/event.h>
#include <sys/time.h>
#ifndef CORIO_SIGNAL_KQUEUE
#define CORIO_SIGNAL_KQUEUE 1
#endif
#else
#error "corio: signal watching needs signalfd (Linux) or kqueue (macOS/BSD)"
#endif

namespace corio::detail {

inline constexpr int max_signal = NSIG; // signal numbers are 1 .. NSIG-1

inline void check_signal_number(int signo) {
    if (signo <= 0 || signo >= max_signal)
        throw std::invalid_argument("corio: invalid signal number " + std::to_string(signo));
    if (signo == SIGKILL || signo == SIGSTOP)
        throw std::invalid_argument("corio: signal " + std::to_string(signo) +
                                    " (SIGKILL/SIGSTOP) cannot be caught");
    sigset_t probe;
    sigemptyset(&probe);
    if (sigaddset(&probe, signo) != 0) // e.g. the real-time signals the C library reserves
        throw std::invalid_argument("corio: signal " + std::to_string(signo) +
                                    " is reserved by the C library");
}


#if defined(CORIO_SIGNAL_SIGNALFD)

class signal_source {
public:
    signal_source() {
        sigemptyset(&mask_);
        sigemptyset(&blocked_before_);
        fd_ = ::signalfd(-1, &mask_, SFD_NONBLOCK | SFD_CLOEXEC);
        if (fd_ < 0) throw std::system_error(errno, std::system_category(), "signalfd");
    }
    ~signal_source() { close(); }
    signal_source(const signal_source&) = delete;
    signal_source& operator=(const signal_source&) = delete;

    int fd() const noexcept { return fd_; }

    // Starts routing `signo` to the descriptor.
    void watch(int signo) {
        sigset_t one, old;
        sigemptyset(&one);
        sigaddset(&one, signo);
        // Block first: an instance arriving before signalfd knows about it stays pending
        // and is read later, instead of acting on the process.
        if (int e = ::pthread_sigmask(SIG_BLOCK, &one, &old); e != 0)
            throw std::system_error(e, std::system_category(), "pthread_sigmask(SIG_BLOCK)");
        if (sigismember(&old, signo)) sigaddset(&blocked_before_, signo);
        sigaddset(&mask_, signo);
        if (::signalfd(fd_, &mask_, 0) < 0) {
            int e = errno;
            sigdelset(&mask_, signo);
            restore_mask(signo);
            throw std::system_error(e, std::system_category(),
                                    "signalfd (watching signal " + std::to_string(signo) + ")");
        }
    }

    // Stops routing `signo`. An instance that arrived but was never read is discarded:
    // it was meant for the watcher, and letting it act now would surprise the program.
    void unwatch(int signo) noexcept {
        sigdelset(&mask_, signo);
        (void)::signalfd(fd_, &mask_, 0);
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, signo);
        const timespec zero{0, 0};
        while (::sigtimedwait(&one, nullptr, &zero) == signo) {
        }
        restore_mask(signo);
    }

    // The next signal that arrived, or 0 when none is waiting. Never blocks.
    int next() noexcept {
        signalfd_siginfo info;
        for (;;) {
            ssize_t n = ::read(fd_, &info, sizeof info);
            if (n == static_cast<ssize_t>(sizeof info)) return static_cast<int>(info.ssi_signo);
            if (n < 0 && errno == EINTR) continue;
            return 0;
        }
    }

    void close() noexcept {
        if (fd_ < 0) return;
        for (int s = 1; s < max_signal; ++s)
            if (sigismember(&mask_, s) == 1) unwatch(s);
        ::close(fd_);
        fd_ = -1;
    }

private:
    void restore_mask(int signo) noexcept {
        if (sigismember(&blocked_before_, signo) == 1) {
            sigdelset(&blocked_before_, signo);
            return;
        }
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, signo);
        ::pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
    }

    int fd_ = -1;
    sigset_t mask_;           // what the signalfd reports
    sigset_t blocked_before_; // watched signals the thread had already blocked
};

#else // CORIO_SIGNAL_KQUEUE

class signal_source {
public:
    signal_source() {
        kq_ = ::kqueue();
        if (kq_ < 0) throw std::system_error(errno, std::system_category(), "kqueue (signals)");
        ::fcntl(kq_, F_SETFD, FD_CLOEXEC);
        for (bool& w : watched_) w = false;
    }
    ~signal_source() { close(); }
    signal_source(const signal_source&) = delete;
    signal_source& operator=(const signal_source&) = delete;

    int fd() const noexcept { return kq_; }

    void watch(int signo) {
        struct kevent ev;
        EV_SET(&ev, signo, EVFILT_SIGNAL, EV_ADD | EV_CLEAR, 0, 0, nullptr);
        if (::kevent(kq_, &ev, 1, nullptr, 0, nullptr) < 0)
            throw std::system_error(errno, std::system_category(),
                                    "kevent(EVFILT_SIGNAL " + std::to_string(signo) + ")");
        struct sigaction ignore {};
        ignore.sa_handler = SIG_IGN;
        sigemptyset(&ignore.sa_mask);
        ::sigaction(signo, &ignore, &previous_[signo]);
        watched_[signo] = true;
    }

    void unwatch(int signo) noexcept {
        if (!watched_[signo]) return;
        struct kevent ev;
        EV_SET(&ev, signo, EVFILT_SIGNAL, EV_DELETE, 0, 0, nullptr);
        ::kevent(kq_, &ev, 1, nullptr, 0, nullptr);
        ::sigaction(signo, &previous_[signo], nullptr);
        watched_[signo] = false;
    }

    int next() noexcept {
        struct kevent ev;
        const timespec zero{0, 0};
        for (;;) {
            int n = ::kevent(kq_, nullptr, 0, &ev, 1, &zero);
            if (n == 1) return static_cast<int>(ev.ident);
            if (n < 0 && errno == EINTR) continue;
            return 0;
        }
    }

    void close() noexcept {
        if (kq_ < 0) return;
        for (int s = 1; s < max_signal; ++s) unwatch(s);
        ::close(kq_);
        kq_ = -1;
    }

private:
    int kq_ = -1;
    bool watched_[max_signal];
    struct sigaction previous_[max_signal];
};

#endif

} // namespace corio::detail
