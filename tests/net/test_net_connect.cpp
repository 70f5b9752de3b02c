// Addresses, name resolution and open_connection: numeric hosts skip the worker pool,
// names go through it, an unknown host and a refused port give clear errors, and a
// pending connect can be cancelled or timed out without leaking its socket.
#define CORIO_COUNT_FRAMES 1
#include "corio_test.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <system_error>
#include <vector>

#include <corio/net.hpp>
#include <corio/thread_pool.hpp>

#include "helpers/full_backlog.hpp"
#include "helpers/net_helpers.hpp"

using namespace std::chrono_literals;
using corio::endpoint;
using corio::ip_address;
using corio::task;
using net_test::catch_as;

namespace {

using net_test::closed_port;
using net_test::require_clean;

using test_support::full_backlog;

} // namespace

TEST_CASE("endpoints and IP addresses parse and print like asyncio's") {
    auto a = endpoint::parse("127.0.0.1:8888");
    REQUIRE(a);
    REQUIRE(a->is_v4());
    REQUIRE(a->port() == 8888);
    REQUIRE(a->to_string() == "127.0.0.1:8888");
    REQUIRE(a->address().is_loopback());

    auto b = endpoint::parse("[::1]:8888");
    REQUIRE(b);
    REQUIRE(b->is_v6());
    REQUIRE(b->to_string() == "[::1]:8888");
    REQUIRE(b->address() == ip_address::loopback_v6());

    for (const char* bad : {"", "127.0.0.1", "::1:80", "[::1]", "[127.0.0.1]:80", "1.2.3.4:65536",
                            "1.2.3.4:-1", "host:80", "1.2.3.4:"})
        REQUIRE_FALSE(endpoint::parse(bad));

    REQUIRE(ip_address::from_string("2001:db8::1").to_string() == "2001:db8::1");
    REQUIRE(ip_address::from_string("10.1.2.3").bytes()[3] == 3);
    REQUIRE(ip_address::any_v4().is_unspecified());
    REQUIRE(ip_address::any_v6().is_unspecified());
    REQUIRE_THROWS_AS(ip_address::from_string("localhost"), std::invalid_argument);
    REQUIRE(endpoint::local("/tmp/x.sock").to_string() == "/tmp/x.sock");
    REQUIRE(endpoint::local(std::string("\0abstract", 9)).to_string() == "@abstract");
    REQUIRE(endpoint(ip_address::loopback_v4(), 80) == *endpoint::parse("127.0.0.1:80"));
}

TEST_CASE("resolve: numeric hosts inline, names on the worker pool, unknown hosts named") {
    require_clean(net_test::run_checked([]() -> task<void> {
        auto& pool = corio::get_running_loop().service<corio::thread_pool>();

        auto v4 = co_await corio::resolve("127.0.0.1", 80);
        REQUIRE(v4.size() == 1);
        REQUIRE(v4[0].to_string() == "127.0.0.1:80");
        auto v6 = co_await corio::resolve("::1", 443);
        REQUIRE(v6.size() == 1);
        REQUIRE(v6[0].to_string() == "[::1]:443");
        auto bracketed = co_await corio::resolve("[::1]", 443);
        REQUIRE(bracketed == v6);
        REQUIRE_FALSE(pool.started()); // numeric hosts never touch the pool

        auto local = co_await corio::resolve("localhost", 8080);
        REQUIRE_FALSE(local.empty());
        bool loopback = false;
        for (auto& e : local) {
            REQUIRE(e.port() == 8080);
            loopback = loopback || e.address().is_loopback();
        }
        REQUIRE(loopback);
        REQUIRE(pool.started());

        auto e = co_await catch_as<std::system_error>(corio::resolve("does-not-exist.invalid", 80));
        REQUIRE(e);
        REQUIRE(std::string(e->what()).find("does-not-exist.invalid") != std::string::npos);

        auto e2 = co_await catch_as<std::system_error>(corio::open_connection("does-not-exist.invalid", 80));
        REQUIRE(e2);
        REQUIRE(std::string(e2->what()).find("does-not-exist.invalid") != std::string::npos);
    }));
}

TEST_CASE("connecting to a closed port: ECONNREFUSED naming the address") {
    require_clean(net_test::run_checked([]() -> task<void> {
        std::uint16_t port = closed_port();
        auto e = co_await catch_as<std::system_error>(corio::open_connection("127.0.0.1", port));
        REQUIRE(e);
        REQUIRE(e->code().value() == ECONNREFUSED);
        REQUIRE(std::string(e->what()).find("127.0.0.1:" + std::to_string(port)) != std::string::npos);

        auto by_name = co_await catch_as<std::system_error>(corio::open_connection("localhost", port));
        REQUIRE(by_name);
        REQUIRE(std::string(by_name->what()).find(":" + std::to_string(port)) != std::string::npos);
    }));
}

TEST_CASE("open_connection by name and over IPv6") {
    require_clean(net_test::run_checked([]() -> task<void> {
        auto srv = co_await corio::start_server(net_test::echo, "localhost", 0);
        auto c = co_await corio::open_connection("localhost", srv.addresses().at(0).port());
        c.write("by name");
        REQUIRE_AWAIT_EQ(c.readexactly(7), "by name");

        auto p = co_await net_test::connected_pair("::1");
        REQUIRE(p.client.peername().to_string().rfind("[::1]:", 0) == 0);
        p.client.write("v6");
        REQUIRE_AWAIT_EQ(p.served.readexactly(2), "v6");
    }));
}

TEST_CASE("a pending connect can be timed out or cancelled without leaking its socket") {
    full_backlog stuck;
    require_clean(net_test::run_checked([&stuck]() -> task<void> {
        int fds = net_test::open_fd_count();

        auto e = co_await catch_as<corio::timeout_error>(
            corio::wait_for(corio::open_connection("127.0.0.1", stuck.port), 100ms));
        REQUIRE(e);
        REQUIRE(net_test::open_fd_count() == fds);

        auto pending = corio::spawn(corio::open_connection("127.0.0.1", stuck.port));
        co_await corio::sleep(20ms);
        REQUIRE_FALSE(pending.done());
        REQUIRE(net_test::open_fd_count() == fds + 1); // the half-open socket
        pending.cancel();
        REQUIRE_AWAIT_THROWS(corio::cancelled_error, std::move(pending));
        REQUIRE(net_test::open_fd_count() == fds);
    }));
}
