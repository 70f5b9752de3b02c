// UDP over real loopback sockets: round trips on IPv4 and IPv6, connected sockets,
// datagram boundaries, truncation, errors naming the address, cancellation and close.
#include "corio_test.hpp"
#include "helpers/fd_count.hpp"

#include <corio/net/udp.hpp>

#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <system_error>

#include <dirent.h>

using namespace std::chrono_literals;
using corio::datagram;
using corio::endpoint;
using corio::udp_socket;

// Results are awaited into locals before REQUIRE: g++ 12 evaluates a co_await written
// inside REQUIRE(...) more than once.

namespace {

using test_support::open_fd_count;

corio::task<void> round_trip(std::string host) {
    udp_socket server = co_await udp_socket::bind(host, 0);
    udp_socket client = co_await udp_socket::bind(host, 0);
    REQUIRE(server.sockname().port() != 0);
    REQUIRE(server.sockname().address() == corio::ip_address::from_string(host));

    co_await client.send_to("hello", server.sockname());
    datagram d = co_await server.recv_from();
    REQUIRE(d.data == "hello");
    REQUIRE(d.from == client.sockname());
    REQUIRE_FALSE(d.truncated);

    co_await server.send_to("world", d.from);
    datagram back = co_await client.recv_from();
    REQUIRE(back.data == "world");
    REQUIRE(back.from == server.sockname());

    // Boundaries are kept: an empty datagram, a small one and a large one arrive as sent.
    std::string big(60000, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + 3);
    co_await client.send_to("", server.sockname());
    co_await client.send_to("x", server.sockname());
    co_await client.send_to(big, server.sockname());
    datagram e = co_await server.recv_from();
    datagram x = co_await server.recv_from();
    datagram b = co_await server.recv_from();
    REQUIRE(e.data.empty());
    REQUIRE(x.data == "x");
    REQUIRE(b.data == big);
}

// Lock-step ping-pong: every receive but the first finds nothing yet and waits on the
// reactor, so this exercises the EAGAIN path both ways.
corio::task<void> echo_n(udp_socket& server, int n) {
    for (int i = 0; i < n; ++i) {
        datagram d = co_await server.recv_from();
        co_await server.send_to(d.data, d.from);
    }
}

} // namespace

TEST_CASE("UDP round trip over IPv4") {
    corio::run(round_trip("127.0.0.1"));
}

TEST_CASE("UDP round trip over IPv6") {
    bool have_v6 = corio::run([]() -> corio::task<bool> {
        try {
            udp_socket probe = udp_socket::bind(endpoint(corio::ip_address::loopback_v6(), 0));
        } catch (const std::system_error& e) {
            WARN("skipping: cannot bind [::1] (" << e.what() << ")");
            co_return false;
        }
        co_return true;
    }());
    if (have_v6) corio::run(round_trip("::1"));
}

TEST_CASE("UDP sockets bound by name and by endpoint") {
    corio::run([]() -> corio::task<void> {
        udp_socket a = co_await udp_socket::bind("localhost", 0); // resolved on the pool
        REQUIRE(a.sockname().address().is_loopback());
        udp_socket any = co_await udp_socket::bind("", 0);
        REQUIRE(any.sockname().address().is_unspecified());
        REQUIRE(any.sockname().is_v4());
        udp_socket b = udp_socket::bind(endpoint(corio::ip_address::loopback_v4(), 0));
        auto target = a.sockname();
        if (target.is_v4()) {
            co_await b.send_to("named", target);
            datagram d = co_await a.recv_from();
            REQUIRE(d.data == "named");
        }
    }());
}

TEST_CASE("many lock-step datagrams through the reactor") {
    corio::run([]() -> corio::task<void> {
        udp_socket server = co_await udp_socket::bind("127.0.0.1", 0);
        udp_socket client = co_await udp_socket::connect("127.0.0.1", server.sockname().port());
        auto echo = corio::spawn(echo_n(server, 500));
        for (int i = 0; i < 500; ++i) {
            std::string msg = "message " + std::to_string(i);
            co_await client.send(msg);
            std::string reply = co_await client.recv();
            REQUIRE(reply == msg);
        }
        co_await echo;
    }());
}

TEST_CASE("connected UDP sockets talk to their peer only") {
    corio::run([]() -> corio::task<void> {
        udp_socket server = co_await udp_socket::bind("127.0.0.1", 0);
        udp_socket client = co_await udp_socket::connect("127.0.0.1", server.sockname().port());
        REQUIRE(client.peername() == server.sockname());
        REQUIRE_FALSE(server.peername().has_value());
        REQUIRE(client.sockname().port() != 0);

        co_await client.send("ping");
        datagram d = co_await server.recv_from();
        REQUIRE(d.data == "ping");
        REQUIRE(d.from == client.sockname());

        // The kernel drops datagrams from anyone but the peer: the intruder's comes first
        // but only the server's is received.
        udp_socket intruder = co_await udp_socket::bind("127.0.0.1", 0);
        co_await intruder.send_to("intruder", client.sockname());
        co_await server.send_to("pong", d.from);
        std::string reply = co_await client.recv();
        REQUIRE(reply == "pong");

        // A bound socket can be connected afterwards.
        intruder.connect(server.sockname());
        REQUIRE(intruder.peername() == server.sockname());
        co_await intruder.send("now a peer");
        datagram p = co_await server.recv_from();
        REQUIRE(p.data == "now a peer");
        REQUIRE(p.from == intruder.sockname());

        REQUIRE_THROWS_AS(co_await server.send("no peer"), std::logic_error);
    }());
}

TEST_CASE("a connected UDP socket reports a closed port as ECONNREFUSED, then carries on") {
    corio::run([]() -> corio::task<void> {
        std::uint16_t dead_port;
        {
            udp_socket gone = co_await udp_socket::bind("127.0.0.1", 0);
            dead_port = gone.sockname().port();
        }
        udp_socket client = co_await udp_socket::connect("127.0.0.1", dead_port);
        co_await client.send("anyone?");
        std::error_code code;
        std::string what;
        try {
            (void)co_await client.recv();
        } catch (const std::system_error& e) {
            code = e.code();
            what = e.what();
        }
        REQUIRE(code == std::errc::connection_refused);
        REQUIRE(what.find("127.0.0.1:" + std::to_string(dead_port)) != std::string::npos);

        udp_socket server = co_await udp_socket::bind("127.0.0.1", 0);
        client.connect(server.sockname());
        co_await client.send("still works");
        datagram d = co_await server.recv_from();
        REQUIRE(d.data == "still works");
    }());
}

TEST_CASE("a datagram longer than asked for is cut and flagged") {
    corio::run([]() -> corio::task<void> {
        udp_socket a = co_await udp_socket::bind("127.0.0.1", 0);
        udp_socket b = co_await udp_socket::bind("127.0.0.1", 0);
        co_await a.send_to(std::string(100, 'z'), b.sockname());
        co_await a.send_to("next", b.sockname());
        datagram d = co_await b.recv_from(10);
        REQUIRE(d.data == std::string(10, 'z'));
        REQUIRE(d.truncated);
        datagram n = co_await b.recv_from(10);
        REQUIRE(n.data == "next"); // the rest of the first one is gone, not prepended
        REQUIRE_FALSE(n.truncated);
    }());
}

TEST_CASE("a cancelled receive consumes nothing and the socket stays usable") {
    corio::run([]() -> corio::task<void> {
        udp_socket a = co_await udp_socket::bind("127.0.0.1", 0);
        udp_socket b = co_await udp_socket::bind("127.0.0.1", 0);
        REQUIRE_THROWS_AS(co_await corio::wait_for(b.recv_from(), 10ms), corio::timeout_error);

        auto pending = corio::spawn(b.recv_from());
        co_await corio::sleep(0ms); // parked on the descriptor
        REQUIRE(pending.cancel());
        REQUIRE_THROWS_AS(co_await pending, corio::cancelled_error);

        co_await a.send_to("after", b.sockname());
        datagram d = co_await b.recv_from();
        REQUIRE(d.data == "after");

        // Cancelled before it started: a receive that finds data never suspends, so the
        // cancellation has nowhere to land and the task returns the datagram. Either way
        // the datagram is not lost.
        co_await a.send_to("kept", b.sockname());
        auto early = corio::spawn(b.recv_from());
        REQUIRE(early.cancel());
        std::string got;
        bool cancelled = false;
        try {
            got = (co_await early).data;
        } catch (const corio::cancelled_error&) {
            cancelled = true;
        }
        if (cancelled) got = (co_await b.recv_from()).data;
        REQUIRE(got == "kept");
    }());
}

TEST_CASE("closing or destroying a UDP socket wakes its pending receive") {
    corio::run([]() -> corio::task<void> {
        udp_socket a = co_await udp_socket::bind("127.0.0.1", 0);
        auto pending = corio::spawn(a.recv_from());
        co_await corio::sleep(0ms);
        a.close();
        REQUIRE_FALSE(a.is_open());
        REQUIRE(a.native_handle() == -1);
        std::error_code code;
        try {
            (void)co_await pending;
        } catch (const std::system_error& e) {
            code = e.code();
        }
        REQUIRE(code == std::errc::bad_file_descriptor);
        REQUIRE_THROWS_AS(co_await a.recv_from(), std::logic_error);
        REQUIRE_THROWS_AS(co_await a.send_to("x", endpoint()), std::logic_error);
        a.close(); // idempotent

        std::optional<udp_socket> held(co_await udp_socket::bind("127.0.0.1", 0));
        auto orphan = corio::spawn(held->recv_from());
        co_await corio::sleep(0ms);
        held.reset();
        REQUIRE_THROWS_AS(co_await orphan, std::system_error);

        udp_socket moved_from = co_await udp_socket::bind("127.0.0.1", 0);
        udp_socket owner = std::move(moved_from);
        REQUIRE(owner.is_open());
        REQUIRE_THROWS_AS(moved_from.sockname(), std::logic_error);
    }());
}

TEST_CASE("UDP errors name the address") {
    corio::run([]() -> corio::task<void> {
        udp_socket a = co_await udp_socket::bind("127.0.0.1", 0);
        std::uint16_t port = a.sockname().port();
        std::string what;
        std::error_code code;
        try {
            udp_socket b = co_await udp_socket::bind("127.0.0.1", port);
        } catch (const std::system_error& e) {
            what = e.what();
            code = e.code();
        }
        REQUIRE(code == std::errc::address_in_use);
        REQUIRE(what.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);

        endpoint v6(corio::ip_address::loopback_v6(), 9);
        code = {};
        try {
            co_await a.send_to("x", v6);
        } catch (const std::system_error& e) {
            what = e.what();
            code = e.code();
        }
        REQUIRE(code == std::errc::address_family_not_supported);
        REQUIRE(what.find("[::1]:9") != std::string::npos);

        endpoint unix_path = endpoint::local("/tmp/nope");
        REQUIRE_THROWS_AS(co_await a.send_to("x", unix_path), std::invalid_argument);
        REQUIRE_THROWS_AS(udp_socket::bind(unix_path), std::invalid_argument);

        code = {};
        try {
            udp_socket c = co_await udp_socket::bind("no-such-host.invalid", 0);
        } catch (const std::system_error& e) {
            what = e.what();
            code = e.code();
        }
        REQUIRE(code);
        REQUIRE(what.find("no-such-host.invalid") != std::string::npos);
    }());
}

TEST_CASE("UDP sockets leave no descriptor behind") {
    int before = open_fd_count();
    corio::run([]() -> corio::task<void> {
        udp_socket a = co_await udp_socket::bind("127.0.0.1", 0);
        udp_socket b = co_await udp_socket::connect("127.0.0.1", a.sockname().port());
        co_await b.send("x");
        datagram d = co_await a.recv_from();
        REQUIRE(d.data == "x");
    }());
    REQUIRE(open_fd_count() == before);

    // A socket that outlives its loop was closed with it; destroying it later is harmless.
    std::optional<udp_socket> survivor;
    corio::run([](std::optional<udp_socket>* out) -> corio::task<void> {
        out->emplace(co_await udp_socket::bind("127.0.0.1", 0));
    }(&survivor));
    REQUIRE_FALSE(survivor->is_open());
    survivor.reset();
    REQUIRE(open_fd_count() == before);
}
