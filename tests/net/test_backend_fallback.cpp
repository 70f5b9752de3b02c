// The backend choice, end to end. A container's seccomp profile (Docker's default among
// them) makes io_uring_setup fail with EPERM; the loop must then fall back to epoll, serve
// TCP as usual, and say so only in debug mode. Each case runs in a forked child: the
// filter cannot be removed once installed, and the environment (CORIO_BACKEND,
// CORIO_DEBUG) is changed there only. The child's stderr comes back through a pipe.
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#if defined(__linux__)
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#endif

#include "helpers/net_helpers.hpp"

#if defined(CORIO_HAS_IO_URING) && (defined(__x86_64__) || defined(__aarch64__))

namespace {

#if defined(__x86_64__)
constexpr unsigned native_arch = AUDIT_ARCH_X86_64;
#else
constexpr unsigned native_arch = AUDIT_ARCH_AARCH64;
#endif

// What Docker's default profile does to io_uring: io_uring_setup fails with EPERM, every
// other system call is allowed.
bool forbid_io_uring_setup() {
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, native_arch, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog program{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
    return ::syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) == 0;
}

struct child_result {
    int status = -1; // the child's exit status, or 128 + the signal that ended it
    std::string err; // everything it wrote to stderr
};

// Runs `body` in a forked child with stderr captured. The child never returns into
// Catch2: it reports through its exit status (0 = every check held) and stderr.
template <class Body>
child_result in_child(Body& body) {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    std::fflush(nullptr);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::dup2(fds[1], STDERR_FILENO);
        ::close(fds[0]);
        ::close(fds[1]);
        ::unsetenv("CORIO_DEBUG");
        int status = 1;
        try {
            status = body();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "child: exception: %s\n", e.what());
            status = 2;
        }
        std::fflush(nullptr);
        ::_exit(status);
    }
    ::close(fds[1]);
    child_result r;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n > 0) r.err.append(buf, static_cast<std::size_t>(n));
        else if (n == 0 || errno != EINTR) break;
    }
    ::close(fds[0]);
    int ws = 0;
    while (::waitpid(pid, &ws, 0) < 0 && errno == EINTR) {}
    r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    return r;
}

#define CHILD_CHECK(cond)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            std::fprintf(stderr, "child: check failed: %s (line %d)\n", #cond, __LINE__); \
            return 3;                                                          \
        }                                                                      \
    } while (0)

struct served {
    corio::backend backend = corio::backend::automatic;
    int fallback_error = -1;
    std::string echoed;
};

// One loopback echo through start_server and open_connection on a loop made with `asked`.
served echo_once(corio::backend asked, bool debug) {
    served s;
    auto body = [&]() -> corio::task<void> {
        auto& loop = corio::event_loop::current();
        s.backend = loop.backend();
        s.fallback_error = loop.reactor().fallback_error();
        auto srv = co_await corio::start_server(net_test::echo, "127.0.0.1", 0);
        auto client = co_await corio::open_connection(srv.addresses().at(0));
        client.write("across the loop\n");
        s.echoed = co_await client.readline();
        client.close();
        srv.close();
        co_await srv.wait_closed();
    };
    corio::run_options options;
    options.debug = debug;
    options.backend = asked;
    corio::run(body, options);
    return s;
}

const std::string fallback_notice = "corio: io_uring is unavailable (" + std::string(std::strerror(EPERM)) +
                                    "): the loop uses epoll\n";

} // namespace

TEST_CASE("under a seccomp filter refusing io_uring_setup, io_uring asked for falls back to epoll") {
    bool debug = GENERATE(true, false);
    auto child = [debug]() -> int {
        ::unsetenv("CORIO_BACKEND");
        CHILD_CHECK(forbid_io_uring_setup());
        served s = echo_once(corio::backend::io_uring, debug);
        CHILD_CHECK(s.backend == corio::backend::epoll);
        CHILD_CHECK(s.fallback_error == EPERM);
        CHILD_CHECK(s.echoed == "across the loop\n");
        return 0;
    };
    child_result r = in_child(child);
    INFO("debug " << debug << ", child's stderr:\n" << r.err);
    REQUIRE(r.status == 0);
    if (debug) REQUIRE(r.err == fallback_notice); // said once, and nothing else
    else REQUIRE(r.err.empty());                   // silent outside debug mode
}

TEST_CASE("under a seccomp filter refusing io_uring_setup, the automatic choice is epoll") {
    bool debug = GENERATE(true, false);
    auto child = [debug]() -> int {
        ::unsetenv("CORIO_BACKEND");
        CHILD_CHECK(forbid_io_uring_setup());
        served s = echo_once(corio::backend::automatic, debug);
        CHILD_CHECK(s.backend == corio::backend::epoll);
        CHILD_CHECK(s.fallback_error == EPERM);
        CHILD_CHECK(s.echoed == "across the loop\n");
        // The environment asking for io_uring is refused the same way.
        ::setenv("CORIO_BACKEND", "io_uring", 1);
        corio::event_loop loop;
        CHILD_CHECK(loop.backend() == corio::backend::epoll);
        CHILD_CHECK(loop.reactor().fallback_error() == EPERM);
        return 0;
    };
    child_result r = in_child(child);
    INFO("debug " << debug << ", child's stderr:\n" << r.err);
    REQUIRE(r.status == 0);
    if (debug) REQUIRE(r.err == fallback_notice);
    else REQUIRE(r.err.empty());
}

TEST_CASE("CORIO_BACKEND=epoll gives epoll where io_uring works, and nothing is said") {
    auto child = []() -> int {
        ::setenv("CORIO_BACKEND", "epoll", 1);
        served s = echo_once(corio::backend::automatic, true);
        CHILD_CHECK(s.backend == corio::backend::epoll);
        CHILD_CHECK(s.fallback_error == 0); // chosen, not fallen back to
        CHILD_CHECK(s.echoed == "across the loop\n");
        return 0;
    };
    child_result r = in_child(child);
    INFO("child's stderr:\n" << r.err);
    REQUIRE(r.status == 0);
    REQUIRE(r.err.empty());
}

TEST_CASE("with no filter and no CORIO_BACKEND, the automatic choice is io_uring where the kernel gives a ring") {
    // Probe first: a kernel or container that refuses rings is a machine where automatic
    // must mean epoll, with the refusal's reason kept.
    int refusal = 0;
    {
        corio::event_loop probe(corio::backend::io_uring);
        refusal = probe.reactor().fallback_error();
        if (refusal == 0) REQUIRE(probe.backend() == corio::backend::io_uring);
    }
    if (refusal) WARN("io_uring is unavailable here (" << std::strerror(refusal) << "): checking the fallback instead");
    auto child = [refusal]() -> int {
        ::unsetenv("CORIO_BACKEND");
        served s = echo_once(corio::backend::automatic, false);
        CHILD_CHECK(s.backend == (refusal ? corio::backend::epoll : corio::backend::io_uring));
        CHILD_CHECK(s.fallback_error == refusal);
        CHILD_CHECK(s.echoed == "across the loop\n");
        return 0;
    };
    child_result r = in_child(child);
    INFO("child's stderr:\n" << r.err);
    REQUIRE(r.status == 0);
}

#else

TEST_CASE("the backend fallback needs io_uring headers and a seccomp-capable architecture") {
    WARN("not built: no io_uring backend here, so there is no fallback to check");
}

#endif
