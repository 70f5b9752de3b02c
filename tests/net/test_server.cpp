// Servers over real loopback TCP: many concurrent clients echoing large random-sized
// writes, failing handlers, close() with live handlers, serve_forever and its
// cancellation, bound addresses, and no leaked descriptor or frame.
#define CORIO_COUNT_FRAMES 1
#include "corio_test.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <corio/net.hpp>

#include "helpers/net_helpers.hpp"

using namespace std::chrono_literals;
using corio::stream;
using corio::task;
using net_test::catch_as;

namespace {

using net_test::require_clean;

// Client k writes `total` bytes of its pattern in random-sized chunks (draining after
// each) while reading the echo back and checking every byte.
task<void> echo_client(corio::endpoint to, unsigned k, std::size_t total) {
    stream s = co_await corio::open_connection(to);
    auto writer = [](stream& s, unsigned k, std::size_t total) -> task<void> {
        std::mt19937 rng(k);
        std::uniform_int_distribution<std::size_t> size(1, 64 * 1024);
        for (std::size_t off = 0; off < total;) {
            std::size_t n = std::min(size(rng), total - off);
            s.write(net_test::expected(k, off, n));
            co_await s.drain();
            off += n;
        }
        s.write_eof();
    };
    auto reader = [](stream& s, unsigned k, std::size_t total) -> task<std::size_t> {
        std::size_t got = 0;
        for (;;) {
            std::string d = co_await s.read(64 * 1024);
            if (d.empty()) break;
            if (got + d.size() > total || d != net_test::expected(k, got, d.size()))
                throw std::runtime_error("client " + std::to_string(k) + ": wrong bytes at " + std::to_string(got));
            got += d.size();
        }
        co_return got;
    };
    auto [unused, got] = co_await corio::gather(writer(s, k, total), reader(s, k, total));
    (void)unused;
    if (got != total)
        throw std::runtime_error("client " + std::to_string(k) + ": got " + std::to_string(got) + " bytes");
}

void raise_fd_limit(rlim_t want) {
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < want && rl.rlim_max >= want) {
        rl.rlim_cur = want;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
}

// What the kernel reports for a listening socket: Linux's TCP_INFO gives the accept
// queue's length in tcpi_unacked and its capacity (the effective backlog) in tcpi_sacked.
struct listen_queue {
    unsigned length = 0, capacity = 0;
};
listen_queue queue_of(int listener) {
    tcp_info info{};
    socklen_t len = sizeof info;
    REQUIRE(::getsockopt(listener, IPPROTO_TCP, TCP_INFO, &info, &len) == 0);
    return {info.tcpi_unacked, info.tcpi_sacked};
}

int somaxconn_sysctl() {
    std::ifstream in("/proc/sys/net/core/somaxconn");
    int n = 0;
    in >> n;
    return n > 0 ? n : SOMAXCONN;
}

// `n` non-blocking connects to `port` whose handshakes all complete: each socket turns
// writable with no error. A connect whose SYN the listener dropped (its queue full) stays
// unanswered, so it is never counted, whatever the bound.
int connect_all(std::uint16_t port, std::vector<int>& fds, int n) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < n; ++i) {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        REQUIRE(fd >= 0);
        fds.push_back(fd);
        int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
        REQUIRE((rc == 0 || errno == EINPROGRESS));
    }
    std::vector<pollfd> pending;
    for (int fd : fds) pending.push_back({fd, POLLOUT, 0});
    int connected = 0;
    auto deadline = std::chrono::steady_clock::now() + 20s; // a dropped SYN is retried after 1 s, 3 s, 7 s...
    while (!pending.empty() && std::chrono::steady_clock::now() < deadline) {
        if (::poll(pending.data(), pending.size(), 100) < 0) break;
        std::vector<pollfd> still;
        for (auto& p : pending) {
            if (!p.revents) {
                still.push_back({p.fd, POLLOUT, 0});
                continue;
            }
            int err = 0;
            socklen_t len = sizeof err;
            ::getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err == 0) ++connected;
        }
        pending = std::move(still);
    }
    return connected;
}

task<void> count_and_hold(stream s, std::shared_ptr<int> served) {
    ++*served;
    std::string d = co_await s.read(1); // until the client closes
    (void)d;
}

// Records that a handler was cancelled (and lets the cancellation go on).
task<void> wait_for_ever(stream s, std::shared_ptr<int> cancelled) {
    try {
        std::string d = co_await s.read(100); // the clients never send
        (void)d;
    } catch (const corio::cancelled_error&) {
        ++*cancelled;
        throw;
    }
}

} // namespace

TEST_CASE("200 concurrent clients each echo 1 MiB written in random-sized chunks") {
    raise_fd_limit(2048);
    require_clean(net_test::run_checked([]() -> task<void> {
        auto srv = co_await corio::start_server(net_test::echo, "127.0.0.1", 0);
        corio::endpoint to = srv.addresses().at(0);
        std::vector<task<void>> clients;
        for (unsigned k = 0; k < 200; ++k) clients.push_back(echo_client(to, k, 1u << 20));
        co_await corio::gather(std::move(clients));
        REQUIRE(srv.is_serving());
        srv.close();
        co_await srv.wait_closed();
        REQUIRE(srv.connection_count() == 0);
    }));
}

TEST_CASE("a handler that throws is reported and the server keeps serving") {
    auto r = net_test::run_checked([]() -> task<void> {
        auto handler = [](stream s) -> task<void> {
            std::string line = co_await s.readline();
            if (line == "boom\n") throw std::runtime_error("handler failed on purpose");
            s.write(line);
        };
        auto srv = co_await corio::start_server(handler, "127.0.0.1", 0);
        auto to = srv.addresses().at(0);
        auto bad = co_await corio::open_connection(to);
        auto good = co_await corio::open_connection(to);
        bad.write("boom\n");
        REQUIRE_AWAIT_EQ(bad.read(), ""); // its stream was closed as the handler unwound
        good.write("fine\n");
        REQUIRE_AWAIT_EQ(good.readline(), "fine\n");
        auto later = co_await corio::open_connection(to);
        later.write("still\n");
        REQUIRE_AWAIT_EQ(later.readline(), "still\n");
    });
    REQUIRE(r.reports.size() == 1);
    REQUIRE(net_test::what(r.reports[0]) == "handler failed on purpose");
    REQUIRE(r.fds_after == r.fds_before);
    REQUIRE(r.frames_after == 0);
}

TEST_CASE("close() stops accepting and cancels live handlers; wait_closed() waits for them") {
    require_clean(net_test::run_checked([]() -> task<void> {
        auto cancelled = std::make_shared<int>(0);
        auto handler = [cancelled](stream s) { return wait_for_ever(std::move(s), cancelled); };
        auto srv = co_await corio::start_server(std::move(handler), "127.0.0.1", 0);
        auto to = srv.addresses().at(0);
        std::vector<stream> clients;
        for (int i = 0; i < 5; ++i) clients.push_back(co_await corio::open_connection(to));
        while (srv.connection_count() < 5) co_await corio::sleep(1ms);

        srv.close();
        REQUIRE_FALSE(srv.is_serving());
        REQUIRE(srv.addresses().empty());
        co_await srv.wait_closed();
        REQUIRE(*cancelled == 5);
        REQUIRE(srv.connection_count() == 0);
        for (auto& c : clients) REQUIRE_AWAIT_EQ(c.read(), ""); // handlers' streams closed
        auto e = co_await catch_as<std::system_error>(corio::open_connection(to));
        REQUIRE(e);
        REQUIRE(e->code().value() == ECONNREFUSED);
        srv.close(); // idempotent
        co_await srv.wait_closed();
    }));
}

TEST_CASE("serve_forever: returns after close(), and its cancellation closes the server") {
    require_clean(net_test::run_checked([]() -> task<void> {
        SECTION("close() from another task ends serve_forever") {
            auto srv = co_await corio::start_server(net_test::echo, "127.0.0.1", 0);
            auto serving = corio::spawn(srv.serve_forever());
            auto c = co_await corio::open_connection(srv.addresses().at(0));
            c.write("hi");
            REQUIRE_AWAIT_EQ(c.readexactly(2), "hi");
            srv.close();
            co_await serving; // returns once the echo handler is cancelled and gone
            REQUIRE(srv.connection_count() == 0);
        }
        SECTION("cancelling serve_forever closes the server and rethrows") {
            auto cancelled = std::make_shared<int>(0);
            auto handler = [cancelled](stream s) { return wait_for_ever(std::move(s), cancelled); };
            auto srv = co_await corio::start_server(std::move(handler), "127.0.0.1", 0);
            auto serving = corio::spawn(srv.serve_forever());
            auto c = co_await corio::open_connection(srv.addresses().at(0));
            while (srv.connection_count() < 1) co_await corio::sleep(1ms);
            serving.cancel();
            REQUIRE_AWAIT_THROWS(corio::cancelled_error, std::move(serving));
            REQUIRE_FALSE(srv.is_serving());
            REQUIRE(*cancelled == 1);
            REQUIRE(srv.connection_count() == 0);
            auto e = co_await catch_as<std::logic_error>(srv.serve_forever());
            REQUIRE(e);
        }
        SECTION("wait_for(serve_forever) as a bounded server run") {
            auto srv = co_await corio::start_server(net_test::echo, "127.0.0.1", 0);
            REQUIRE_AWAIT_THROWS(corio::timeout_error, corio::wait_for(srv.serve_forever(), 20ms));
            REQUIRE_FALSE(srv.is_serving());
        }
    }));
}

TEST_CASE("a handler may take stream& and the server owns the connection") {
    require_clean(net_test::run_checked([]() -> task<void> {
        auto handler = [](stream& s) -> task<void> {
            std::string line = co_await s.readline();
            s.write("you said " + line);
        };
        auto srv = co_await corio::start_server(handler, "127.0.0.1", 0);
        auto c = co_await corio::open_connection(srv.addresses().at(0));
        c.write("hello\n");
        REQUIRE_AWAIT_EQ(c.read(), "you said hello\n"); // then EOF: the server closed it
    }));
}

TEST_CASE("bound addresses, port 0, and a clear error for a port in use") {
    require_clean(net_test::run_checked([]() -> task<void> {
        auto srv = co_await corio::start_server(net_test::echo, "127.0.0.1", 0);
        REQUIRE(srv.addresses().size() == 1);
        corio::endpoint a = srv.addresses()[0];
        REQUIRE(a.is_v4());
        REQUIRE(a.port() != 0);
        REQUIRE(a.to_string() == "127.0.0.1:" + std::to_string(a.port()));
        REQUIRE(srv.sockets().size() == 1);
        REQUIRE(srv.sockets()[0] >= 0);

        auto e = co_await catch_as<std::system_error>(corio::start_server(net_test::echo, "127.0.0.1", a.port()));
        REQUIRE(e);
        REQUIRE(e->code().value() == EADDRINUSE);
        REQUIRE(std::string(e->what()).find("bind 127.0.0.1:" + std::to_string(a.port())) != std::string::npos);

        // Every interface: IPv4 and IPv6 listeners share the port picked for the first.
        auto any = co_await corio::start_server(net_test::echo, "", 0);
        auto addrs = any.addresses();
        REQUIRE_FALSE(addrs.empty());
        for (auto& x : addrs) REQUIRE(x.port() == addrs[0].port());
        auto c = co_await corio::open_connection("127.0.0.1", addrs[0].port());
        c.write("x");
        REQUIRE_AWAIT_EQ(c.readexactly(1), "x");

        auto v6 = co_await corio::start_server(net_test::echo, "::1", 0);
        REQUIRE(v6.addresses().at(0).to_string() == "[::1]:" + std::to_string(v6.addresses()[0].port()));
        auto c6 = co_await corio::open_connection("::1", v6.addresses()[0].port());
        REQUIRE(c6.peername().is_v6());
        c6.write("six");
        REQUIRE_AWAIT_EQ(c6.readexactly(3), "six");
    }));
}

TEST_CASE("destroying a server closes it and cancels its handlers") {
    require_clean(net_test::run_checked([]() -> task<void> {
        auto cancelled = std::make_shared<int>(0);
        stream c;
        {
            auto handler = [cancelled](stream s) { return wait_for_ever(std::move(s), cancelled); };
            auto srv = co_await corio::start_server(std::move(handler), "127.0.0.1", 0);
            c = co_await corio::open_connection(srv.addresses().at(0));
            while (srv.connection_count() < 1) co_await corio::sleep(1ms);
        }
        REQUIRE_AWAIT_EQ(c.read(), ""); // the handler was cancelled and its stream closed
        REQUIRE(*cancelled == 1);
    }));
}

TEST_CASE("run() ending with a server still open leaks nothing") {
    int before = net_test::open_fd_count();
    corio::server kept;
    auto cancelled = std::make_shared<int>(0);
    corio::run([](corio::server& out, std::shared_ptr<int> cancelled) -> task<void> {
        auto handler = [cancelled](stream s) { return wait_for_ever(std::move(s), cancelled); };
        out = co_await corio::start_server(std::move(handler), "127.0.0.1", 0);
        auto c = co_await corio::open_connection(out.addresses().at(0));
        while (out.connection_count() < 1) co_await corio::sleep(1ms);
        // main returns with the server serving and a handler blocked in read
    }(kept, cancelled));
    REQUIRE(*cancelled == 1); // the loop cancelled the handler at shutdown
    REQUIRE(net_test::open_fd_count() == before);
    REQUIRE(net_test::live_frames() == 0);
    kept.close(); // after the loop: harmless
}

TEST_CASE("the listen backlog defaults to SOMAXCONN, as capped by the kernel, and stays an option") {
    require_clean(net_test::run_checked([]() -> task<void> {
        auto dflt = co_await corio::start_server(net_test::echo, "127.0.0.1", 0);
        REQUIRE(corio::server_options{}.backlog == SOMAXCONN);
        REQUIRE(queue_of(dflt.sockets().at(0)).capacity ==
                static_cast<unsigned>(std::min(SOMAXCONN, somaxconn_sysctl())));
        auto small = co_await corio::start_server(net_test::echo, "127.0.0.1", 0, {.backlog = 7});
        REQUIRE(queue_of(small.sockets().at(0)).capacity == 7);
    }));
}

TEST_CASE("a burst of 1000 connects to a server that is not accepting all wait in its queue") {
    raise_fd_limit(4096);
    const int clients = std::min(1000, std::min(SOMAXCONN, somaxconn_sysctl()) - 1);
    std::vector<int> fds;
    require_clean(net_test::run_checked([&]() -> task<void> {
        auto served = std::make_shared<int>(0);
        auto handler = [served](stream s) { return count_and_hold(std::move(s), served); };
        auto srv = co_await corio::start_server(std::move(handler), "127.0.0.1", 0);
        int listener = srv.sockets().at(0);
        // The loop is held here, so nothing is accepted while the burst arrives: only the
        // backlog decides whether a connection is queued or its SYN dropped.
        REQUIRE(connect_all(srv.addresses().at(0).port(), fds, clients) == clients);
        REQUIRE(queue_of(listener).length == static_cast<unsigned>(clients));
        // Released, the loop accepts them all.
        while (*served < clients) co_await corio::sleep(1ms);
        REQUIRE(queue_of(listener).length == 0);
        for (int fd : fds) ::close(fd);
        fds.clear();
        while (srv.connection_count() > 0) co_await corio::sleep(1ms);
    }));
}
