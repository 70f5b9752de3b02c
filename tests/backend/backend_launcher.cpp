// Runs one test on the backend CORIO_BACKEND names: `corio_backend_launcher PROGRAM ARGS...`.
// CTest registers every test that runs a loop twice through it, once with
// CORIO_BACKEND=epoll and once with CORIO_BACKEND=io_uring. For io_uring it first asks a
// loop for a ring; where the kernel refuses one (seccomp in a container,
// kernel.io_uring_disabled, a kernel older than 6.1) it prints why and exits with
// skip_status, which the io_uring tests declare as SKIP_RETURN_CODE: CTest shows them as
// skipped, never as passed. With no program it only answers whether io_uring is there.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>

#include <corio/loop.hpp>

namespace {

constexpr int skip_status = 77;

// 0 when a loop asked for io_uring gets one, else the errno of the refusal.
int io_uring_refusal() {
    corio::event_loop loop(corio::backend::io_uring);
    if (loop.backend() == corio::backend::io_uring) return 0;
    return loop.reactor().fallback_error() ? loop.reactor().fallback_error() : ENOSYS;
}

} // namespace

int main(int argc, char** argv) {
    const char* wanted = std::getenv("CORIO_BACKEND");
    if (wanted && std::strcmp(wanted, "io_uring") == 0) {
        int refusal = 0;
        try {
            refusal = io_uring_refusal();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "corio_backend_launcher: cannot make an event loop: %s\n", e.what());
            return 1;
        }
        if (refusal) {
            std::fprintf(stderr, "corio: io_uring is unavailable (%s): skipping this test's io_uring run\n",
                         std::strerror(refusal));
            return skip_status;
        }
    }
    if (argc < 2) return 0;
    ::execvp(argv[1], argv + 1);
    std::fprintf(stderr, "corio_backend_launcher: cannot run %s: %s\n", argv[1], std::strerror(errno));
    return 127;
}
