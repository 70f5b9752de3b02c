#pragma once
// The OS side of stream::sendfile: sendfile(2) where the kernel copies file pages to a
// socket itself (Linux), and the read(2) that the copying fallback uses elsewhere.
// Like the other wrappers these report -errno instead of throwing.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <ctime>

#include <pthread.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/sendfile.h>
#endif

namespace corio::detail {

/// Whether sendfile(2) exists here; elsewhere send_file_some always reports ENOSYS.
#if defined(__linux__)
inline constexpr bool have_native_sendfile = true;
#else
inline constexpr bool have_native_sendfile = false;
#endif

/// Up to n bytes of `fd` from `offset` onto the socket: bytes sent, 0 at the end of the
/// file, or -errno (EAGAIN when the socket is full; EINVAL or ENOSYS when this kind of
/// file cannot be sent this way). sendfile has no MSG_NOSIGNAL, so a peer that went away
/// would raise SIGPIPE: the signal is blocked on this thread for the call, and one it
/// raised is taken back before the mask is restored.
inline long send_file_some(int sock, int fd, std::uint64_t offset, std::size_t n) noexcept {
#if defined(__linux__)
    sigset_t pipe_only, old;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    off_t off = static_cast<off_t>(offset);
    ssize_t r;
    do {
        r = ::sendfile(sock, fd, &off, n);
    } while (r < 0 && errno == EINTR);
    int err = r < 0 ? errno : 0;
    if (err == EPIPE && !was_pending) {
        timespec zero{0, 0};
        while (sigtimedwait(&pipe_only, nullptr, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return err ? -static_cast<long>(err) : static_cast<long>(r);
#else
    (void)sock, (void)fd, (void)offset, (void)n;
    return -static_cast<long>(ENOSYS);
#endif
}

/// sendfile's errors that say "not this way" rather than "failed" (ESPIPE: a pipe, which
/// has no offsets): fall back to copying.
inline bool sendfile_unsupported(int err) noexcept {
    return err == EINVAL || err == ENOSYS || err == EOPNOTSUPP || err == ESPIPE;
}

/// Errors that are the connection's, not the file's: they stick to the stream.
inline bool is_connection_error(int err) noexcept {
    return err == EPIPE || err == ECONNRESET || err == ENOTCONN || err == ECONNABORTED || err == ETIMEDOUT ||
           err == EHOSTUNREACH || err == ENETUNREACH || err == ENETDOWN || err == ENETRESET;
}

/// Up to n bytes of `fd` at `offset` (pread), or at its current position when it cannot
/// seek (a pipe): bytes read, 0 at the end, or -errno.
inline long read_file_some(int fd, char* buf, std::size_t n, std::uint64_t offset) noexcept {
    for (;;) {
        ssize_t r = ::pread(fd, buf, n, static_cast<off_t>(offset));
        if (r < 0 && errno == ESPIPE) r = ::read(fd, buf, n);
        if (r >= 0) return static_cast<long>(r);
        if (errno != EINTR) return -static_cast<long>(errno);
    }
}

} // namespace corio::detail
