#pragma once
// The OS side of child processes: starting one with posix_spawn, watching its exit through
// a pidfd (Linux 5.3+), reaping it without blocking, and signalling it. Reaping always
// names one pid (waitid(P_PID)), never "any child", so it cannot steal the exit status of
// a child somebody else started.
#include <cerrno>
#include <csignal>
#include <string>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/syscall.h>
#endif

extern char** environ;

namespace corio::detail {

// What posix_spawn is asked to do: run `argv[0]` (looked up in the parent's PATH when it
// has no '/'), with `envp` (null: the parent's environment), in `cwd` (null: the parent's),
// with descriptor `stdio[i]` duplicated onto i (-1: inherited). All three must be above 2.
// `stderr_to_stdout` makes 2 a copy of 1 once 1 is in place.
struct spawn_request {
    std::vector<char*> argv; // null-terminated
    char* const* envp = nullptr;
    const char* cwd = nullptr;
    int stdio[3] = {-1, -1, -1};
    bool stderr_to_stdout = false;
};

// Starts the child and returns its pid. Throws std::system_error with the errno the child
// could not get past (ENOENT for a program or directory that does not exist, EACCES...),
// as posix_spawn reports a failed exec to its caller. The child starts with no signal
// blocked (the loop thread blocks the signals it watches) and SIGPIPE at its default
// action, as Python's subprocess does; it inherits only descriptors 0, 1 and 2 where the
// C library can close the rest (glibc 2.34+, macOS), and everything corio opens is
// close-on-exec anyway.
inline pid_t spawn_process(const spawn_request& req) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    if (int e = ::posix_spawn_file_actions_init(&actions))
        throw std::system_error(e, std::system_category(), "posix_spawn");
    if (int e = ::posix_spawnattr_init(&attr)) {
        ::posix_spawn_file_actions_destroy(&actions);
        throw std::system_error(e, std::system_category(), "posix_spawn");
    }
    struct cleanup {
        posix_spawn_file_actions_t& a;
        posix_spawnattr_t& t;
        ~cleanup() {
            ::posix_spawn_file_actions_destroy(&a);
            ::posix_spawnattr_destroy(&t);
        }
    } done{actions, attr};

    int err = 0;
    auto check = [&err](int e) {
        if (e && !err) err = e;
    };
    if (req.cwd) {
#if defined(__GLIBC__) || defined(__APPLE__) || defined(__FreeBSD__)
        check(::posix_spawn_file_actions_addchdir_np(&actions, req.cwd));
#else
        check(ENOTSUP);
#endif
    }
    for (int i = 0; i < 3; ++i)
        if (req.stdio[i] >= 0) check(::posix_spawn_file_actions_adddup2(&actions, req.stdio[i], i));
    if (req.stderr_to_stdout) check(::posix_spawn_file_actions_adddup2(&actions, 1, 2));
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    check(::posix_spawn_file_actions_addclosefrom_np(&actions, 3));
#elif defined(__APPLE__) && defined(POSIX_SPAWN_CLOEXEC_DEFAULT)
    flags |= POSIX_SPAWN_CLOEXEC_DEFAULT; // with the dup2 actions above, only 0-2 survive
    for (int i = 0; i < 3; ++i)
        if (req.stdio[i] < 0 && !(i == 2 && req.stderr_to_stdout))
            check(::posix_spawn_file_actions_addinherit_np(&actions, i));
#endif
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
#if defined(SIGXFSZ)
    sigaddset(&defaults, SIGXFSZ);
#endif
    check(::posix_spawnattr_setsigmask(&attr, &none));
    check(::posix_spawnattr_setsigdefault(&attr, &defaults));
    check(::posix_spawnattr_setflags(&attr, flags));
    const std::string what = std::string("cannot run '") + req.argv[0] + "'";
    if (err) throw std::system_error(err, std::system_category(), what);

    pid_t pid = -1;
    char* const* envp = req.envp ? req.envp : environ;
    int e = ::posix_spawnp(&pid, req.argv[0], &actions, &attr, req.argv.data(), envp);
    if (e) {
        if (req.cwd && (e == ENOENT || e == ENOTDIR || e == EACCES))
            throw std::system_error(e, std::system_category(), what + " in '" + req.cwd + "'");
        throw std::system_error(e, std::system_category(), what);
    }
    return pid;
}

// A descriptor that becomes readable when `pid` exits, close-on-exec, or -errno (ENOSYS
// before Linux 5.3 and on other systems).
inline int open_pidfd(pid_t pid) noexcept {
#if defined(__linux__) && defined(SYS_pidfd_open)
    long fd = ::syscall(SYS_pidfd_open, pid, 0); // pidfds are always close-on-exec
    return fd >= 0 ? static_cast<int>(fd) : -errno;
#elif defined(__linux__)
    long fd = ::syscall(434 /* pidfd_open, the same number on every architecture */, pid, 0);
    return fd >= 0 ? static_cast<int>(fd) : -errno;
#else
    (void)pid;
    return -ENOSYS;
#endif
}

// asyncio's returncode for a wait status: the exit code, or minus the signal that ended it.
inline int returncode_of(int code, int status) noexcept {
    return code == CLD_EXITED ? status : -status;
}

// Reaps `pid` if it has ended: true with its returncode. Never blocks; never touches any
// other child. A pid that is not (or no longer) a child of ours counts as ended with 255,
// as Python's child watchers report it.
inline bool try_reap(pid_t pid, int& returncode) noexcept {
    for (;;) {
        siginfo_t info{};
        if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG) == 0) {
            if (info.si_pid == 0) return false; // still running
            returncode = returncode_of(info.si_code, info.si_status);
            return true;
        }
        if (errno == EINTR) continue;
        returncode = 255; // ECHILD: reaped elsewhere, or SIGCHLD set to SIG_IGN
        return true;
    }
}

// Waits for `pid` to end and reaps it: only for a child just sent SIGKILL.
inline int reap_blocking(pid_t pid) noexcept {
    for (;;) {
        siginfo_t info{};
        if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED) == 0)
            return returncode_of(info.si_code, info.si_status);
        if (errno != EINTR) return 255;
    }
}

// 0 or errno (ESRCH for a process that no longer exists).
inline int signal_process(pid_t pid, int signo) noexcept { return ::kill(pid, signo) == 0 ? 0 : errno; }

inline void close_descriptor(int fd) noexcept { ::close(fd); }

} // namespace corio::detail
