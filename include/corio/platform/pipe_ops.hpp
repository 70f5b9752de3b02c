#pragma once
// The OS side of pipes: creating them close-on-exec with a non-blocking end for the loop,
// and reading and writing them without SIGPIPE. Streams use these for descriptors of kind
// io_kind::pipe in place of recv/send, which only work on sockets.
#include <cerrno>
#include <csignal>
#include <cstddef>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

namespace corio::detail {

// Moves `fd` above the standard descriptors (0-2) when it landed on one of them (a program
// that closed its stdin), so duplicating it onto 0, 1 or 2 in a child is never a no-op
// that keeps FD_CLOEXEC. Returns the descriptor to use (close-on-exec) or -errno.
inline int above_stdio(int fd) noexcept {
    if (fd < 0 || fd > 2) return fd;
    int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int err = errno;
    ::close(fd);
    return moved >= 0 ? moved : -err;
}

inline int set_cloexec(int fd) noexcept {
    int flags = ::fcntl(fd, F_GETFD);
    return flags >= 0 && ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == 0 ? 0 : errno;
}

inline int set_nonblocking(int fd) noexcept {
    int flags = ::fcntl(fd, F_GETFL);
    return flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 ? 0 : errno;
}

// A pipe whose both ends are close-on-exec and above the standard descriptors: fds[0]
// reads, fds[1] writes. 0 or errno. Both ends block; the caller makes its own end
// non-blocking, since the child's end must stay blocking for ordinary programs.
inline int make_pipe(int fds[2]) noexcept {
#if defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__)
    if (::pipe2(fds, O_CLOEXEC) < 0) return errno;
#else
    if (::pipe(fds) < 0) return errno;
    set_cloexec(fds[0]);
    set_cloexec(fds[1]);
#endif
    for (int i = 0; i < 2; ++i) {
        int fd = above_stdio(fds[i]);
        if (fd < 0) {
            if (i == 0) ::close(fds[1]);
            else ::close(fds[0]);
            return -fd;
        }
        fds[i] = fd;
    }
    return 0;
}

// /dev/null for reading and writing, close-on-exec and above the standard descriptors,
// or -errno.
inline int open_devnull() noexcept {
    int fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    return fd < 0 ? -errno : above_stdio(fd);
}

// Bytes read (0 at EOF) or -errno.
inline long pipe_read(int fd, char* buf, std::size_t n) noexcept {
    for (;;) {
        ssize_t r = ::read(fd, buf, n);
        if (r >= 0) return static_cast<long>(r);
        if (errno != EINTR) return -errno;
    }
}

// Bytes written or -errno (EPIPE once the reader is gone), never raising SIGPIPE: pipes
// have no MSG_NOSIGNAL, so SIGPIPE is blocked in this thread around the write and the
// instance the write raised is consumed before the mask is restored. An instance that
// was already pending from elsewhere is left alone.
inline long pipe_write(int fd, const char* buf, std::size_t n) noexcept {
    sigset_t only_pipe, old, pending;
    sigemptyset(&only_pipe);
    sigaddset(&only_pipe, SIGPIPE);
    sigemptyset(&pending);
    ::sigpending(&pending);
    const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
    ::pthread_sigmask(SIG_BLOCK, &only_pipe, &old);
    ssize_t r;
    do {
        r = ::write(fd, buf, n);
    } while (r < 0 && errno == EINTR);
    const int err = r < 0 ? errno : 0;
    if (err == EPIPE && !was_pending) {
        sigemptyset(&pending);
        ::sigpending(&pending);
        int signo = 0;
        if (sigismember(&pending, SIGPIPE) == 1) ::sigwait(&only_pipe, &signo); // pending: returns at once
    }
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return r >= 0 ? static_cast<long>(r) : -err;
}

} // namespace corio::detail
