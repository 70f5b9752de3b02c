// Happy eyeballs and sendfile, on loopback only.
// open_connection to several addresses: an address whose SYNs are dropped (a listener
// with a full backlog) is left pending while the next is tried after the delay, a
// refused address hands over at once, the loser's socket is closed, cancelling leaks
// nothing, and when all fail the error names every address.
// stream.sendfile: every byte of the range arrives in order after what was written
// before, with a slow reader, past the end of the file, through the copying fallback
// (forced, and for a pipe, which sendfile(2) refuses), and a reset or a cancellation
// stops it cleanly.
#define CORIO_COUNT_FRAMES 1
#include "corio_test.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <corio/file.hpp>
#include <corio/net.hpp>

#include "helpers/file_helpers.hpp"
#include "helpers/full_backlog.hpp"
#include "helpers/net_helpers.hpp"

using namespace std::chrono_literals;
using corio::endpoint;
using corio::ip_address;
using corio::task;
using net_test::catch_as;
using net_test::open_fd_count;
using net_test::require_clean;

namespace {

using test_support::full_backlog;

bool have_ipv6_loopback() {
    int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
}

// A server on `host` whose accepted streams wait in a queue.
struct answering {
    std::shared_ptr<corio::queue<corio::stream>> accepted = std::make_shared<corio::queue<corio::stream>>();
    corio::server srv;
    task<void> start(std::string host) {
        auto q = accepted;
        auto handler = [q](corio::stream s) { return net_test::hand_over(q, std::move(s)); };
        srv = co_await corio::start_server(std::move(handler), host, 0);
    }
    endpoint address() const { return srv.addresses().at(0); }
    task<void> stop() {
        srv.close();
        co_await srv.wait_closed();
    }
};

corio::connect_options delay_of(std::chrono::nanoseconds d) {
    corio::connect_options o;
    o.happy_eyeballs_delay = d;
    return o;
}

// Turns the loop until `fds` descriptors are open (bounded by turns, not by time).
task<bool> fds_reach(int fds) {
    for (int i = 0; i < 2000 && open_fd_count() != fds; ++i) co_await corio::sleep(1ms);
    co_return open_fd_count() == fds;
}

} // namespace

TEST_CASE("interleave orders addresses by family as asyncio does") {
    auto v4 = [](std::uint8_t b) { return endpoint(ip_address::v4({10, 0, 0, b}), 1); };
    auto v6 = [](std::uint8_t b) {
        std::array<std::uint8_t, 16> bytes{};
        bytes[15] = b;
        return endpoint(ip_address::v6(bytes), 1);
    };
    using corio::detail::interleave_families;
    std::vector<endpoint> mixed{v6(1), v6(2), v6(3), v4(1), v4(2)};
    REQUIRE(interleave_families(mixed, 1) == std::vector<endpoint>{v6(1), v4(1), v6(2), v4(2), v6(3)});
    REQUIRE(interleave_families(mixed, 2) == std::vector<endpoint>{v6(1), v6(2), v4(1), v6(3), v4(2)});
    REQUIRE(interleave_families(mixed, 0) == mixed);
    std::vector<endpoint> v4_first{v4(1), v4(2), v6(1)};
    REQUIRE(interleave_families(v4_first, 1) == std::vector<endpoint>{v4(1), v6(1), v4(2)});
}

TEST_CASE("happy eyeballs: a pending first address is passed over after the delay") {
    full_backlog stuck;
    require_clean(net_test::run_checked([&stuck]() -> task<void> {
        answering live;
        co_await live.start("127.0.0.2");
        int fds = open_fd_count();
        std::vector<endpoint> addrs{stuck.address(), live.address()};

        // While the delay runs, only the first attempt exists and nothing reached the
        // second address.
        auto pending = corio::spawn(corio::open_connection(addrs, delay_of(500ms)));
        for (int i = 0; i < 3; ++i) co_await corio::sleep(0s);
        REQUIRE_FALSE(pending.done());
        REQUIRE(open_fd_count() == fds + 1);
        REQUIRE(live.accepted->empty());

        corio::stream s = co_await pending;
        REQUIRE(s.peername() == live.address());
        corio::stream served = co_await live.accepted->get();
        // The winner and its accepted end; the pending loser's socket is closed.
        REQUIRE(open_fd_count() == fds + 2);
        s.write("hi");
        REQUIRE_AWAIT_EQ(served.readexactly(2), "hi");
        s.close();
        served.close();
        co_await s.wait_closed();
        co_await served.wait_closed();
        REQUIRE(open_fd_count() == fds);
        co_await live.stop();
    }));
}

TEST_CASE("happy eyeballs: a refused address or a zero delay tries the next at once") {
    full_backlog stuck;
    require_clean(net_test::run_checked([&stuck]() -> task<void> {
        answering live;
        co_await live.start("127.0.0.2");
        int fds = open_fd_count();
        endpoint refused(ip_address::loopback_v4(), net_test::closed_port());

        // A delay no test could wait out: only the failure can start the second attempt.
        std::vector<endpoint> refused_first{refused, live.address()};
        corio::stream a = co_await corio::open_connection(refused_first, delay_of(10h));
        REQUIRE(a.peername() == live.address());

        // Delay 0: the second starts on the next turn while the first stays pending.
        std::vector<endpoint> stuck_first{stuck.address(), live.address()};
        corio::stream b = co_await corio::open_connection(stuck_first, delay_of(0s));
        REQUIRE(b.peername() == live.address());

        auto sa = co_await live.accepted->get();
        auto sb = co_await live.accepted->get();
        REQUIRE(open_fd_count() == fds + 4); // the two winners and their accepted ends
        std::vector<corio::stream> all;
        all.push_back(std::move(a));
        all.push_back(std::move(b));
        all.push_back(std::move(sa));
        all.push_back(std::move(sb));
        for (auto& s : all) s.close();
        for (auto& s : all) co_await s.wait_closed();
        co_await live.stop();
    }));
}

TEST_CASE("happy eyeballs over IPv6: a pending IPv4 address, then ::1") {
    if (!have_ipv6_loopback()) {
        WARN("skipped: ::1 is not available on this machine");
        return;
    }
    full_backlog stuck;
    require_clean(net_test::run_checked([&stuck]() -> task<void> {
        answering live;
        co_await live.start("::1");
        std::vector<endpoint> addrs{stuck.address(), live.address()};
        corio::stream s = co_await corio::open_connection(addrs, delay_of(20ms));
        REQUIRE(s.peername().is_v6());
        REQUIRE(s.peername() == live.address());
        auto served = co_await live.accepted->get();
        s.close();
        served.close();
        co_await s.wait_closed();
        co_await served.wait_closed();
        co_await live.stop();
    }));
}

TEST_CASE("happy eyeballs: cancelling or timing out mid-way closes every attempt") {
    full_backlog stuck;
    require_clean(net_test::run_checked([&stuck]() -> task<void> {
        int fds = open_fd_count();
        std::vector<endpoint> three(3, stuck.address());

        auto pending = corio::spawn(corio::open_connection(three, delay_of(0s)));
        bool all_started = co_await fds_reach(fds + 3);
        REQUIRE(all_started);
        pending.cancel();
        REQUIRE_AWAIT_THROWS(corio::cancelled_error, std::move(pending));
        REQUIRE(open_fd_count() == fds);

        // Cancelled while the second attempt is still waiting for its turn.
        auto early = corio::spawn(corio::open_connection(three, delay_of(10h)));
        bool first_started = co_await fds_reach(fds + 1);
        REQUIRE(first_started);
        early.cancel();
        REQUIRE_AWAIT_THROWS(corio::cancelled_error, std::move(early));
        REQUIRE(open_fd_count() == fds);

        // wait_for bounds the whole, not each attempt.
        auto e = co_await catch_as<corio::timeout_error>(
            corio::wait_for(corio::open_connection(three, delay_of(1ms)), 50ms));
        REQUIRE(e);
        REQUIRE(open_fd_count() == fds);
    }));
}

TEST_CASE("happy eyeballs: when every address fails the error names each one") {
    require_clean(net_test::run_checked([]() -> task<void> {
        std::uint16_t port = net_test::closed_port();
        endpoint a(ip_address::loopback_v4(), port);
        endpoint b(ip_address::from_string("127.0.0.2"), port);
        std::vector<corio::connect_options> variants{delay_of(10ms), corio::connect_options{std::nullopt, 1}};
        for (const auto& opts : variants) {
            std::vector<endpoint> both{a, b};
            auto e = co_await catch_as<std::system_error>(corio::open_connection(both, opts));
            REQUIRE(e);
            REQUIRE(e->code().value() == ECONNREFUSED);
            std::string msg = e->what();
            REQUIRE(msg.find(a.to_string() + ": ") != std::string::npos);
            REQUIRE(msg.find(b.to_string() + ": ") != std::string::npos);
        }
        // One address: the same error as connecting to it directly.
        std::vector<endpoint> just_a(1, a);
        auto one = co_await catch_as<std::system_error>(corio::open_connection(just_a));
        REQUIRE(one);
        REQUIRE(one->code().value() == ECONNREFUSED);
        REQUIRE(std::string(one->what()) == "connect " + a.to_string() + ": " + one->code().message());
        std::vector<endpoint> none;
        REQUIRE_AWAIT_THROWS(std::invalid_argument, corio::open_connection(none));
    }));
}

// ------------------------------------------------------------------------- sendfile

namespace {

struct fallback_switch {
    explicit fallback_switch(bool on) { corio::detail::sendfile_force_fallback() = on; }
    ~fallback_switch() { corio::detail::sendfile_force_fallback() = false; }
};

task<std::string> read_n(corio::stream& s, std::size_t n) { co_return co_await s.readexactly(n); }

// Sends header, the range and trailer; the peer checks every byte in order.
task<void> send_range(test_support::temp_dir& dir, bool use_fd) {
    const std::string content = test_support::pattern((3u << 20) + 123, 7);
    const std::string path = dir / "big.bin";
    corio::detail::write_whole_file(path, content);
    auto p = co_await net_test::connected_pair();
    net_test::set_small_buffers(p.client.native_handle());
    net_test::set_small_buffers(p.served.native_handle());

    const std::string header(1u << 20, 'h'); // more than the kernel takes: it is buffered
    p.client.write(header);
    REQUIRE(p.client.write_buffer_size() > 0);
    REQUIRE_AWAIT_THROWS(std::invalid_argument, p.client.sendfile(-1, 0, 0)); // count 0

    const std::uint64_t offset = 12345, count = (2u << 20) + 7;
    auto reader = corio::spawn(read_n(p.served, header.size() + count + 3));
    std::uint64_t sent = 0;
    if (use_fd) {
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        REQUIRE(fd >= 0);
        sent = co_await p.client.sendfile(fd, offset, count);
        REQUIRE(::lseek(fd, 0, SEEK_CUR) == 0); // the descriptor's position is not used
        ::close(fd);
    } else {
        corio::file f = co_await corio::open(path, "rb");
        sent = co_await p.client.sendfile(f, offset, count);
        co_await f.close();
    }
    REQUIRE(sent == count);
    p.client.write("end");
    std::string got = co_await reader;
    REQUIRE(got.size() == header.size() + count + 3);
    REQUIRE(got.compare(0, header.size(), header) == 0);
    REQUIRE(got.compare(header.size(), count, content, offset, count) == 0);
    REQUIRE(got.compare(header.size() + count, 3, "end") == 0);
    p.client.close();
    p.served.close();
    co_await p.client.wait_closed();
    co_await p.served.wait_closed();
    p.srv.close();
    co_await p.srv.wait_closed();
}

} // namespace

TEST_CASE("sendfile: a multi-MiB range arrives whole and in order, natively and copied") {
    test_support::temp_dir dir;
    for (bool fallback : {false, true}) {
        fallback_switch sw(fallback);
        for (bool use_fd : {true, false}) {
            require_clean(net_test::run_checked([&]() -> task<void> { co_await send_range(dir, use_fd); }));
        }
    }
}

TEST_CASE("sendfile: a slow reader pushes back; the count may pass the end of the file") {
    test_support::temp_dir dir;
    const std::string content = test_support::pattern(1000, 3);
    corio::detail::write_whole_file(dir / "small.bin", content);
    const std::string big = test_support::pattern(1u << 20, 4);
    corio::detail::write_whole_file(dir / "big.bin", big);
    require_clean(net_test::run_checked([&]() -> task<void> {
        auto p = co_await net_test::connected_pair();
        net_test::set_small_buffers(p.client.native_handle());
        net_test::set_small_buffers(p.served.native_handle());
        corio::file small = co_await corio::open(dir / "small.bin", "rb");
        corio::file f = co_await corio::open(dir / "big.bin", "rb");

        // Nobody reads yet: the socket buffers hold far less than 1 MiB, so it waits.
        auto sending = corio::spawn(p.client.sendfile(f));
        for (int i = 0; i < 3; ++i) co_await corio::sleep(0s);
        REQUIRE_FALSE(sending.done());
        std::string got;
        while (got.size() < big.size()) { // a slow reader: small reads, a turn between them
            got += co_await p.served.read(4096);
            co_await corio::sleep(0s);
        }
        REQUIRE(got == big);
        std::uint64_t sent = co_await sending;
        REQUIRE(sent == big.size());

        REQUIRE_AWAIT_EQ(p.client.sendfile(small, 900, 500), 100u); // stops at the end
        REQUIRE_AWAIT_EQ(p.client.sendfile(small, 5000), 0u);         // starts past it
        REQUIRE_AWAIT_EQ(p.served.readexactly(100), content.substr(900));

        co_await small.close();
        co_await f.close();
        p.client.close();
        p.served.close();
        co_await p.client.wait_closed();
        co_await p.served.wait_closed();
        p.srv.close();
        co_await p.srv.wait_closed();
    }));
}

TEST_CASE("sendfile: a pipe, which sendfile(2) refuses, is copied instead") {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const std::string data = test_support::pattern(20000, 5);
    REQUIRE(::write(fds[1], data.data(), data.size()) == static_cast<ssize_t>(data.size()));
    ::close(fds[1]);
    require_clean(net_test::run_checked([&]() -> task<void> {
        auto p = co_await net_test::connected_pair();
        REQUIRE_AWAIT_EQ(p.client.sendfile(fds[0]), data.size());
        REQUIRE_AWAIT_EQ(p.served.readexactly(data.size()), data);
        p.client.close();
        p.served.close();
        co_await p.client.wait_closed();
        co_await p.served.wait_closed();
        p.srv.close();
        co_await p.srv.wait_closed();
    }));
    ::close(fds[0]);
}

TEST_CASE("sendfile: a peer reset mid-way is the stream's sticky write error") {
    test_support::temp_dir dir;
    corio::detail::write_whole_file(dir / "big.bin", test_support::pattern(8u << 20, 9));
    for (bool fallback : {false, true}) {
        fallback_switch sw(fallback);
        require_clean(net_test::run_checked([&]() -> task<void> {
            auto p = co_await net_test::connected_pair();
            net_test::set_small_buffers(p.client.native_handle());
            net_test::set_small_buffers(p.served.native_handle());
            corio::file f = co_await corio::open(dir / "big.bin", "rb");
            auto resetter = [&]() -> task<void> {
                (void)co_await p.served.readexactly(10000);
                net_test::set_linger_zero(p.served.native_handle());
                p.served.abort(); // RST
            };
            auto r = corio::spawn(resetter());
            auto e = co_await catch_as<std::system_error>(p.client.sendfile(f));
            REQUIRE(e);
            int code = e->code().value();
            REQUIRE((code == ECONNRESET || code == EPIPE));
            REQUIRE(std::string(e->what()).find("send to 127.0.0.1:") != std::string::npos);
            co_await r;
            REQUIRE_THROWS_AS(p.client.write("more"), std::system_error); // it sticks
            co_await f.close();
            p.client.close();
            co_await p.client.wait_closed();
            p.srv.close();
            co_await p.srv.wait_closed();
        }));
    }
}

TEST_CASE("sendfile: cancelled while the reader is slow, it stops and the stream is usable") {
    test_support::temp_dir dir;
    const std::string content = test_support::pattern(4u << 20, 11);
    corio::detail::write_whole_file(dir / "big.bin", content);
    for (bool fallback : {false, true}) {
        fallback_switch sw(fallback);
        require_clean(net_test::run_checked([&]() -> task<void> {
            auto p = co_await net_test::connected_pair();
            net_test::set_small_buffers(p.client.native_handle());
            net_test::set_small_buffers(p.served.native_handle());
            corio::file f = co_await corio::open(dir / "big.bin", "rb");
            int fds = open_fd_count();

            auto h = corio::spawn(p.client.sendfile(f));
            for (int i = 0; i < 5; ++i) co_await corio::sleep(1ms); // nobody reads: it blocks
            REQUIRE_FALSE(h.done());
            REQUIRE_THROWS_AS(p.client.write("x"), std::logic_error); // not while it sends
            h.cancel();
            h.cancel();
            REQUIRE_AWAIT_THROWS(corio::cancelled_error, std::move(h));

            // A prefix of the range went out; the stream takes writes again after it.
            p.client.write("tail");
            p.client.write_eof();
            std::string got = co_await p.served.read();
            REQUIRE(got.size() > 4);
            REQUIRE(got.size() < content.size());
            std::size_t prefix = got.size() - 4;
            REQUIRE(got.compare(0, prefix, content, 0, prefix) == 0);
            REQUIRE(got.compare(prefix, 4, "tail") == 0);
            REQUIRE(open_fd_count() == fds);

            co_await f.close();
            p.client.close();
            p.served.close();
            co_await p.client.wait_closed();
            co_await p.served.wait_closed();
            p.srv.close();
            co_await p.srv.wait_closed();
        }));
    }
}
