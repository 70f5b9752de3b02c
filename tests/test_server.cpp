// Servers over real loopback TCP: many concurrent clients echoing large random-sized
// writes, failing handlers, close() with live handlers, serve_forever and its
// cancellation, bound addresses, and no leaked descriptor or frame.
#define CORIO_COUNT_FRAMES 1
#include "corio_test.hpp"

#include <sys/resource.h>

#include <chrono>
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
