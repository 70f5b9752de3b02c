// Stream semantics over real loopback TCP: asyncio's read/readexactly/readuntil/readline
// at their boundaries and at EOF, half-close, flow control, peer resets, cancellation of
// pending reads and drains, close with pending data, and no leaked descriptor or frame.
#define CORIO_COUNT_FRAMES 1
#include "corio_test.hpp"

#include <cerrno>
#include <chrono>
#include <string>
#include <system_error>

#include <netinet/tcp.h>

#include <corio/net.hpp>

#include "helpers/net_helpers.hpp"

using namespace std::chrono_literals;
using corio::stream;
using corio::task;
using net_test::catch_as;
using net_test::connected_pair;

namespace {

using net_test::require_clean;

// Lets the loop poll a few times, so bytes in flight on loopback arrive.
task<void> settle() {
    for (int i = 0; i < 5; ++i) co_await corio::sleep(1ms);
}

} // namespace

TEST_CASE("read(n) returns what is buffered, up to n; empty at EOF") {
    require_clean(net_test::run_checked([]() -> task<void> {
        auto p = co_await connected_pair();
        p.client.write("hello world");
        REQUIRE_AWAIT_EQ(p.served.readexactly(5), "hello");
        REQUIRE_AWAIT_EQ(p.served.read(0), "");
        REQUIRE_AWAIT_EQ(p.served.read(3), " wo");
        REQUIRE_AWAIT_EQ(p.served.read(100), "rld");
        REQUIRE_FALSE(p.served.at_eof());
        p.client.write_eof();
        REQUIRE_AWAIT_EQ(p.served.read(100), "");
        REQUIRE(p.served.at_eof());
        REQUIRE_AWAIT_EQ(p.served.read(100), ""); // EOF sticks
        REQUIRE_AWAIT_EQ(p.served.read(), "");
    }));
}

TEST_CASE("read() returns everything up to EOF") {
    require_clean(net_test::run_checked([]() -> task<void> {
        auto p = co_await connected_pair();
        auto data = std::string(net_test::expected(1, 0, 3u << 20));
        p.client.write(data);
        p.client.write_eof();
        std::string got = co_await p.served.read();
        REQUIRE(got.size() == data.size());
        REQUIRE(got == data);
        REQUIRE(p.served.at_eof());
    }));
}

TEST_CASE("readexactly: across writes, zero bytes, and EOF with the partial bytes") {
    require_clean(net_test::run_checked([]() -> task<void> {
        auto p = co_await connected_pair();
        auto writer = corio::spawn([](stream& s) -> task<void> {
            for (char c : std::string("abcdefgh")) {
                s.write(std::string(1, c));
                co_await corio::sleep(1ms);
            }
            s.write_eof();
        }(p.client));
        REQUIRE_AWAIT_EQ(p.served.readexactly(0), "");
        REQUIRE_AWAIT_EQ(p.served.readexactly(6), "abcdef");
        auto e = co_await catch_as<corio::incomplete_read_error>(p.served.readexactly(4));
        REQUIRE(e);
        REQUIRE(e->partial == "gh");
        REQUIRE(e->expected == 4);
        REQUIRE(p.served.at_eof());
        co_await writer;
    }));
}

TEST_CASE("readuntil: separators split across writes, limit boundaries, EOF") {
    require_clean(net_test::run_checked([]() -> task<void> {
        auto p = co_await connected_pair();
        stream& r = p.served;

        SECTION("a multi-byte separator split between two segments") {
            p.client.write("abc\r");
            co_await settle();
            p.client.write("\ndef\r\n");
            REQUIRE_AWAIT_EQ(r.readuntil("\r\n"), "abc\r\n");
            REQUIRE_AWAIT_EQ(r.readuntil("\r\n"), "def\r\n");
        }
        SECTION("a separator starting exactly at the limit is accepted") {
            r.set_limit(10);
            p.client.write("0123456789\n");
            REQUIRE_AWAIT_EQ(r.readuntil("\n"), "0123456789\n");
        }
        SECTION("a separator past the limit throws and leaves the data buffered") {
            r.set_limit(10);
            p.client.write("0123456789A\nrest");
            co_await settle();
            auto e = co_await catch_as<corio::limit_overrun_error>(r.readuntil("\n"));
            REQUIRE(e);
            REQUIRE(e->consumed == 11);
            REQUIRE_AWAIT_EQ(r.readexactly(12), "0123456789A\n");
            REQUIRE_AWAIT_EQ(r.readexactly(4), "rest");
        }
        SECTION("no separator within the limit throws, data stays") {
            r.set_limit(10);
            p.client.write("0123456789AB");
            co_await settle();
            auto e = co_await catch_as<corio::limit_overrun_error>(r.readuntil("\n"));
            REQUIRE(e);
            REQUIRE_AWAIT_EQ(r.readexactly(12), "0123456789AB");
        }
        SECTION("exactly limit bytes and EOF: incomplete_read_error with all of them") {
            r.set_limit(10);
            p.client.write("0123456789");
            p.client.write_eof();
            auto e = co_await catch_as<corio::incomplete_read_error>(r.readuntil("\n"));
            REQUIRE(e);
            REQUIRE(e->partial == "0123456789");
            REQUIRE(e->expected == 0);
            REQUIRE(r.at_eof());
        }
        SECTION("an empty separator is rejected") {
            auto e = co_await catch_as<std::invalid_argument>(r.readuntil(""));
            REQUIRE(e);
        }
    }));
}

TEST_CASE("readline: lines, the last partial line at EOF, then empty") {
    require_clean(net_test::run_checked([]() -> task<void> {
        auto p = co_await connected_pair();
        std::string longline(60000, 'x');
        p.client.write("one\n\ntwo\n" + longline + "\ntail");
        p.client.write_eof();
        REQUIRE_AWAIT_EQ(p.served.readline(), "one\n");
        REQUIRE_AWAIT_EQ(p.served.readline(), "\n");
        REQUIRE_AWAIT_EQ(p.served.readline(), "two\n");
        REQUIRE_AWAIT_EQ(p.served.readline(), longline + "\n");
        REQUIRE_AWAIT_EQ(p.served.readline(), "tail");
        REQUIRE_AWAIT_EQ(p.served.readline(), "");
        REQUIRE(p.served.at_eof());
    }));
}

TEST_CASE("readline over the limit throws limit_overrun_error and keeps the bytes") {
    require_clean(net_test::run_checked([]() -> task<void> {
        auto p = co_await connected_pair();
        p.served.set_limit(8);
        p.client.write("a very long line\nshort\n");
        auto e = co_await catch_as<corio::limit_overrun_error>(p.served.readline());
        REQUIRE(e);
        REQUIRE_AWAIT_EQ(p.served.readexactly(17), "a very long line\n");
        REQUIRE_AWAIT_EQ(p.served.readline(), "short\n");
    }));
}

TEST_CASE("half-close from the client: the server reads EOF and still answers") {
    require_clean(net_test::run_checked([]() -> task<void> {
        auto p = co_await connected_pair();
        p.client.write("question");
        p.client.write_eof();
        REQUIRE_AWAIT_EQ(p.served.read(), "question");
        p.served.write("answer");
        p.served.close();
        co_await p.served.wait_closed();
        REQUIRE_AWAIT_EQ(p.client.read(), "answer");
        REQUIRE(p.client.at_eof());
        auto e = co_await catch_as<std::logic_error>([](stream& s) -> task<void> {
            s.write("more"); // after write_eof
            co_return;
        }(p.client));
        REQUIRE(e);
    }));
}

TEST_CASE("half-close from the server: the client reads EOF and can still send") {
    require_clean(net_test::run_checked([]() -> task<void> {
        auto p = co_await connected_pair();
        p.served.write("bye");
        p.served.write_eof();
        REQUIRE_AWAIT_EQ(p.client.read(), "bye");
        REQUIRE(p.client.at_eof());
        p.client.write("still here");
        p.client.write_eof();
        REQUIRE_AWAIT_EQ(p.served.read(), "still here");
    }));
}

TEST_CASE("a writer that drains stays within the high-water mark of a slow reader") {
    require_clean(net_test::run_checked([]() -> task<void> {
        auto p = co_await connected_pair();
        net_test::set_small_buffers(p.client.native_handle());
        net_test::set_small_buffers(p.served.native_handle());
        const std::size_t high = 32 * 1024, chunk = 8 * 1024, total = 4u << 20;
        p.served.set_write_buffer_limits(high);
        REQUIRE(p.served.write_buffer_limits() == std::pair<std::size_t, std::size_t>(high / 4, high));

        std::size_t max_after_write = 0, max_after_drain = 0;
        auto writer = corio::spawn([](stream& s, std::size_t total, std::size_t chunk, std::size_t& max_w,
                                      std::size_t& max_d) -> task<void> {
            for (std::size_t off = 0; off < total; off += chunk) {
                s.write(net_test::expected(2, off, chunk));
                max_w = std::max(max_w, s.write_buffer_size());
                co_await s.drain();
                max_d = std::max(max_d, s.write_buffer_size());
            }
            s.write_eof();
        }(p.served, total, chunk, max_after_write, max_after_drain));

        co_await corio::sleep(50ms); // the reader stalls: the kernel buffers fill up
        std::size_t got = 0;
        for (;;) {
            std::string d = co_await p.client.read(4096);
            if (d.empty()) break;
            REQUIRE(d == net_test::expected(2, got, d.size()));
            got += d.size();
            co_await corio::sleep(0ms);
        }
        co_await writer;
        REQUIRE(got == total);
        REQUIRE(max_after_write > high); // the writer really was held back by drain()
        REQUIRE(max_after_write <= high + chunk);
        REQUIRE(max_after_drain <= high);
    }));
}

TEST_CASE("a peer reset reaches only the task talking to it, as a clear error") {
    require_clean(net_test::run_checked([]() -> task<void> {
        auto victim = co_await connected_pair();
        auto bystander = co_await corio::open_connection(victim.srv.addresses().at(0));
        // the bystander's server side never gets a handler here: it only shows the loop
        // and other streams carry on.
        auto other = co_await connected_pair();

        SECTION("a pending read gets ECONNRESET") {
            auto reader = corio::spawn(victim.served.read(100));
            co_await settle();
            net_test::set_linger_zero(victim.client.native_handle());
            victim.client.abort();
            auto e = co_await catch_as<std::system_error>(std::move(reader));
            REQUIRE(e);
            REQUIRE(e->code().value() == ECONNRESET);
            REQUIRE(std::string(e->what()).find("recv from 127.0.0.1:") != std::string::npos);
            // sticky: the next read says the same
            auto again = co_await catch_as<std::system_error>(victim.served.read(1));
            REQUIRE(again);
            REQUIRE(again->code().value() == ECONNRESET);
        }
        SECTION("a writer gets EPIPE or ECONNRESET from write() or drain()") {
            net_test::set_linger_zero(victim.client.native_handle());
            victim.client.abort();
            auto e = co_await catch_as<std::system_error>([](stream& s) -> task<void> {
                for (int i = 0; i < 10000; ++i) {
                    s.write(std::string(64 * 1024, 'x'));
                    co_await s.drain();
                }
            }(victim.served));
            REQUIRE(e);
            int code = e->code().value();
            REQUIRE((code == EPIPE || code == ECONNRESET));
            REQUIRE(std::string(e->what()).find("send to 127.0.0.1:") != std::string::npos);
        }
        other.client.write("ping");
        REQUIRE_AWAIT_EQ(other.served.readexactly(4), "ping");
        other.served.write("pong");
        REQUIRE_AWAIT_EQ(other.client.readexactly(4), "pong");
        bystander.write("x");
        co_await bystander.drain();
    }));
}

TEST_CASE("a cancelled read loses nothing and the stream stays usable") {
    require_clean(net_test::run_checked([]() -> task<void> {
        auto p = co_await connected_pair();

        SECTION("cancel a read waiting for data") {
            auto reader = corio::spawn(p.served.read(100));
            co_await settle();
            REQUIRE(reader.cancel());
            auto e = co_await catch_as<corio::cancelled_error>(std::move(reader));
            REQUIRE(e);
            p.client.write("after");
            REQUIRE_AWAIT_EQ(p.served.readexactly(5), "after");
        }
        SECTION("cancel a readexactly holding a partial answer") {
            auto reader = corio::spawn(p.served.readexactly(6));
            p.client.write("abc");
            co_await settle();
            reader.cancel();
            REQUIRE_AWAIT_THROWS(corio::cancelled_error, std::move(reader));
            p.client.write("def");
            REQUIRE_AWAIT_EQ(p.served.readexactly(6), "abcdef");
        }
        SECTION("wait_for bounds a readline; the bytes already in stay") {
            p.client.write("partial ");
            auto e = co_await catch_as<corio::timeout_error>(corio::wait_for(p.served.readline(), 20ms));
            REQUIRE(e);
            p.client.write("line\n");
            REQUIRE_AWAIT_EQ(p.served.readline(), "partial line\n");
        }
    }));
}

TEST_CASE("a cancelled drain leaves the buffer intact and the stream usable") {
    require_clean(net_test::run_checked([]() -> task<void> {
        auto p = co_await connected_pair();
        net_test::set_small_buffers(p.client.native_handle());
        net_test::set_small_buffers(p.served.native_handle());
        const std::size_t total = 2u << 20;
        p.served.write(net_test::expected(3, 0, total)); // the peer is not reading
        co_await settle();
        std::size_t buffered = p.served.write_buffer_size();
        REQUIRE(buffered > corio::default_write_high_water);

        auto e = co_await catch_as<corio::timeout_error>(corio::wait_for(p.served.drain(), 20ms));
        REQUIRE(e);
        auto drainer = corio::spawn(p.served.drain());
        co_await settle();
        drainer.cancel();
        REQUIRE_AWAIT_THROWS(corio::cancelled_error, std::move(drainer));
        // Nothing dropped (every byte arrives below), and still held back by the peer.
        REQUIRE(p.served.write_buffer_size() <= buffered);
        REQUIRE(p.served.write_buffer_size() > corio::default_write_high_water);

        auto reader = corio::spawn(p.client.readexactly(total));
        co_await p.served.drain();
        REQUIRE(p.served.write_buffer_size() <= corio::default_write_high_water / 4);
        std::string got = co_await reader;
        REQUIRE(got == net_test::expected(3, 0, total));
    }));
}

TEST_CASE("close() and destruction send what is buffered, then close") {
    require_clean(net_test::run_checked([]() -> task<void> {
        auto p = co_await connected_pair();
        net_test::set_small_buffers(p.client.native_handle());
        net_test::set_small_buffers(p.served.native_handle());
        const std::size_t total = 1u << 20;

        SECTION("close() then wait_closed()") {
            p.served.write(net_test::expected(4, 0, total));
            REQUIRE(p.served.write_buffer_size() > 0);
            p.served.close();
            p.served.close(); // idempotent
            REQUIRE(p.served.is_closing());
            REQUIRE_AWAIT_THROWS(std::logic_error, [](stream& s) -> task<void> {
                s.write("late");
                co_return;
            }(p.served));
            auto closer = corio::spawn(p.served.wait_closed());
            std::string got = co_await p.client.read();
            REQUIRE(got == net_test::expected(4, 0, total));
            co_await closer;
            REQUIRE(p.served.native_handle() == -1);
        }
        SECTION("a stream destroyed with data pending still delivers it") {
            {
                stream doomed = std::move(p.served);
                doomed.write(net_test::expected(4, 0, total));
                REQUIRE(doomed.write_buffer_size() > 0);
            }
            std::string got = co_await p.client.read();
            REQUIRE(got == net_test::expected(4, 0, total));
        }
    }));
}

TEST_CASE("close() wakes a read pending in another task with EOF") {
    require_clean(net_test::run_checked([]() -> task<void> {
        auto p = co_await connected_pair();
        p.client.write("buffered");
        co_await settle();
        REQUIRE_AWAIT_EQ(p.served.readexactly(3), "buf");
        auto reader = corio::spawn(p.served.readexactly(100));
        co_await settle();
        p.served.close();
        auto e = co_await catch_as<corio::incomplete_read_error>(std::move(reader));
        REQUIRE(e);
        REQUIRE(e->partial == "fered");
        REQUIRE_AWAIT_EQ(p.client.read(), ""); // the peer sees EOF
    }));
}

TEST_CASE("two concurrent readers on one stream are refused") {
    require_clean(net_test::run_checked([]() -> task<void> {
        auto p = co_await connected_pair();
        auto first = corio::spawn(p.served.read(10));
        co_await settle();
        auto e = co_await catch_as<std::logic_error>(p.served.read(10));
        REQUIRE(e);
        p.client.write("x");
        REQUIRE_AWAIT_EQ(first, "x");
    }));
}

TEST_CASE("addresses and options of a connected stream") {
    require_clean(net_test::run_checked([]() -> task<void> {
        auto p = co_await connected_pair();
        REQUIRE(p.client.peername() == p.srv.addresses().at(0));
        REQUIRE(p.served.peername() == p.client.sockname());
        REQUIRE(p.served.sockname() == p.srv.addresses().at(0));
        REQUIRE(p.client.sockname().to_string().rfind("127.0.0.1:", 0) == 0);
        int nodelay = 0;
        socklen_t len = sizeof nodelay;
        ::getsockopt(p.client.native_handle(), IPPROTO_TCP, TCP_NODELAY, &nodelay, &len);
        REQUIRE(nodelay != 0);
        REQUIRE(p.client.limit() == corio::default_stream_limit);
        REQUIRE_THROWS_AS(p.client.set_write_buffer_limits(10, 20), std::invalid_argument);
        stream moved = std::move(p.client);
        REQUIRE_FALSE(p.client.valid());
        REQUIRE_THROWS_AS(p.client.write("x"), std::logic_error);
        REQUIRE(moved.valid());
    }));
}

TEST_CASE("a stream that outlives run() is closed with the loop, without leaks") {
    int before = net_test::open_fd_count();
    stream kept = corio::run([]() -> task<stream> {
        auto p = co_await connected_pair();
        co_return std::move(p.client);
    }());
    REQUIRE(net_test::open_fd_count() == before);
    REQUIRE(kept.native_handle() == -1);
    REQUIRE_THROWS_AS(kept.write("x"), std::logic_error);
    REQUIRE(net_test::live_frames() == 0);
}
