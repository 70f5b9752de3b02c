// Running out of descriptors: a child process serves with RLIMIT_NOFILE lowered so that
// only a few connections fit. The clients beyond those wait in the backlog while the
// accept loop backs off (its CPU use, read with getrusage, stays low), and are served
// once the first clients leave and their descriptors are free again.
//
// Under UBSan this test builds without the vptr check (tests/CMakeLists.txt lists it with
// the other programs that run out of descriptors): that check probes memory through a
// pipe(2) of its own, which cannot be opened once the descriptor table is full, and then
// reports "invalid vptr" for objects that are fine. ASan still checks every access.
#include "corio_test.hpp"

#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <corio/net.hpp>

using namespace std::chrono_literals;

namespace {

constexpr int headroom = 3; // descriptors left for connections in the child

long cpu_micros() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

// The RLIMIT_NOFILE under which exactly `free` descriptor numbers are still unused
// (descriptors are numbered lowest-first, and some may sit high up, as under gVisor).
rlim_t limit_leaving(int free) {
    std::vector<bool> used(4096);
    if (DIR* d = ::opendir("/proc/self/fd")) {
        int self = ::dirfd(d);
        while (dirent* e = ::readdir(d)) {
            int fd = std::atoi(e->d_name);
            if (e->d_name[0] != '.' && fd != self && fd < 4096) used[fd] = true;
        }
        ::closedir(d);
    }
    for (int fd = 0; fd < 4096; ++fd)
        if (!used[fd] && --free == 0) return static_cast<rlim_t>(fd + 1);
    return 4096;
}

// ---------------------------------------------------------------- the child: a server

corio::task<void> child_handler(corio::stream s, corio::event& quit) {
    for (;;) {
        std::string line = co_await s.readline();
        if (line.empty()) co_return;
        if (line == "cpu\n")
            s.write(std::to_string(cpu_micros()) + "\n");
        else if (line == "quit\n")
            quit.set();
        else
            s.write(line);
    }
}

corio::task<int> child_main(int report_fd) {
    corio::event quit;
    auto handler = [&quit](corio::stream s) { return child_handler(std::move(s), quit); };
    auto srv = co_await corio::start_server(std::move(handler), "127.0.0.1", 0);
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = limit_leaving(headroom);
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) co_return 3;
    std::string port = std::to_string(srv.addresses().at(0).port()) + "\n";
    if (::write(report_fd, port.data(), port.size()) != static_cast<ssize_t>(port.size())) co_return 4;
    co_await quit.wait();
    srv.close();
    co_await srv.wait_closed();
    co_return 0;
}

// ---------------------------------------------------------------- the parent: plain sockets

struct client {
    int fd = -1;
    std::string pending;
    explicit client(std::uint16_t port) {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) FAIL("connect failed");
    }
    ~client() { close(); }
    void close() {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
    void send(const std::string& s) const { REQUIRE(::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == (ssize_t)s.size()); }
    // A line, or "" if none came within the timeout.
    std::string line(std::chrono::milliseconds timeout) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            auto nl = pending.find('\n');
            if (nl != std::string::npos) {
                std::string out = pending.substr(0, nl + 1);
                pending.erase(0, nl + 1);
                return out;
            }
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return "";
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return "";
            char buf[256];
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) return "";
            pending.append(buf, static_cast<std::size_t>(n));
        }
    }
};

long child_cpu(client& c) {
    c.send("cpu\n");
    std::string r = c.line(5s);
    REQUIRE_FALSE(r.empty());
    return std::stol(r);
}

} // namespace

TEST_CASE("EMFILE: the accept loop backs off without spinning and serves again once descriptors free up") {
    int report[2];
    REQUIRE(::pipe(report) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
#if defined(__linux__)
        ::prctl(PR_SET_PDEATHSIG, SIGKILL); // never outlive a parent killed by a timeout
#endif
        ::close(report[0]);
        int code = 5;
        try {
            code = corio::run(child_main(report[1]));
        } catch (...) {
            code = 6;
        }
        ::_exit(code);
    }
    ::close(report[1]);
    std::string port_text;
    for (char ch; port_text.find('\n') == std::string::npos;) {
        pollfd p{report[0], POLLIN, 0};
        REQUIRE(::poll(&p, 1, 10000) == 1);
        REQUIRE(::read(report[0], &ch, 1) == 1);
        port_text += ch;
    }
    ::close(report[0]);
    auto port = static_cast<std::uint16_t>(std::stoi(port_text));

    // Connect until one client gets no answer: the child is out of descriptors.
    std::vector<std::unique_ptr<client>> served, starved;
    for (int i = 0; i < 40 && starved.empty(); ++i) {
        auto c = std::make_unique<client>(port);
        c->send("hello " + std::to_string(i) + "\n");
        if (c->line(2s) == "hello " + std::to_string(i) + "\n")
            served.push_back(std::move(c));
        else
            starved.push_back(std::move(c));
    }
    REQUIRE(served.size() == static_cast<std::size_t>(headroom));
    REQUIRE(starved.size() == 1);
    for (int i = 0; i < 3; ++i) {
        starved.push_back(std::make_unique<client>(port));
        starved.back()->send("late " + std::to_string(i) + "\n");
    }

    // While starved, the accept loop sleeps: CPU time barely moves.
    auto start = std::chrono::steady_clock::now();
    long cpu_before = child_cpu(*served[0]);
    std::this_thread::sleep_for(2s);
    long cpu_after = child_cpu(*served[0]);
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double cpu = (cpu_after - cpu_before) / 1e6;
    INFO("child CPU " << cpu << " s over " << wall << " s starved");
    CHECK(cpu < 0.25 * wall); // a spinning accept loop would use about all of it

    // Free the descriptors: every waiting client is served, in turn, as each one leaves.
    for (auto& c : served) c->close();
    REQUIRE(starved[0]->line(10s) == "hello " + std::to_string(served.size()) + "\n");
    starved[0]->close();
    for (int i = 0; i < 3; ++i) {
        REQUIRE(starved[i + 1]->line(10s) == "late " + std::to_string(i) + "\n");
        if (i < 2) starved[i + 1]->close();
    }

    starved[3]->send("quit\n");
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
}
