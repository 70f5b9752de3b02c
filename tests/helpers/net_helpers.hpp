#pragma once
// Shared by the networking tests: a connected stream pair over loopback, a leak check
// (descriptors and coroutine frames), socket knobs, a port nothing listens on, and
// reproducible test data.
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <corio/net.hpp>

#include "corio_test.hpp"
#include "fd_count.hpp"

// co_await must stay out of Catch's REQUIRE: the macro also expands its argument inside
// __builtin_constant_p, where co_await is not allowed.
#define REQUIRE_AWAIT_EQ(awaitable, expected)                                                 \
    do {                                                                                      \
        auto net_test_value_ = co_await awaitable;                                            \
        REQUIRE(net_test_value_ == (expected));                                               \
    } while (false)
#define REQUIRE_AWAIT_THROWS(type, ...)                                                       \
    do {                                                                                      \
        auto net_test_error_ = co_await net_test::catch_as<type>(__VA_ARGS__);                \
        REQUIRE(net_test_error_);                                                             \
    } while (false)

namespace net_test {

// Open descriptors of this process.
using test_support::open_fd_count;

inline long live_frames() {
#ifdef CORIO_COUNT_FRAMES
    return corio::detail::live_frames.load();
#else
    return 0;
#endif
}

inline void set_linger_zero(int fd) { // close() then sends RST
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

// A loopback port nothing listens on: bound to an ephemeral port, then closed, so a
// connect to it is refused (unless another process takes it in between).
inline std::uint16_t closed_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int bound = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    int named = ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    REQUIRE(bound == 0);
    REQUIRE(named == 0);
    return ntohs(a.sin_port);
}

inline void set_small_buffers(int fd, int bytes = 64 * 1024) {
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

// Random bytes; stream k of a test sends block()[offset(k) + i], so a receiver can check
// every byte with memcmp and no copy of what was sent.
inline const std::string& block() {
    static const std::string b = [] {
        std::string s(6u << 20, '\0');
        std::mt19937_64 rng(12345);
        for (std::size_t i = 0; i + 8 <= s.size(); i += 8) {
            std::uint64_t v = rng();
            std::memcpy(&s[i], &v, 8);
        }
        return s;
    }();
    return b;
}
inline std::size_t offset_for(unsigned k) { return (k * 7919u) % (1u << 20); }
inline std::string_view expected(unsigned k, std::size_t pos, std::size_t n) {
    return std::string_view(block()).substr(offset_for(k) + pos, n);
}

inline corio::task<void> echo(corio::stream s) {
    for (;;) {
        std::string data = co_await s.read(64 * 1024);
        if (data.empty()) break;
        s.write(data);
        co_await s.drain();
    }
}

// A connected pair over loopback: `client` from open_connection, `served` as a server
// handler received it.
struct stream_pair {
    corio::server srv;
    corio::stream client;
    corio::stream served;
};

inline corio::task<void> hand_over(std::shared_ptr<corio::queue<corio::stream>> q, corio::stream s) {
    q->put_nowait(std::move(s));
    co_return;
}

inline corio::task<stream_pair> connected_pair(std::string host = "127.0.0.1") {
    auto q = std::make_shared<corio::queue<corio::stream>>();
    stream_pair p;
    // Named first: GCC 12 destroys a capturing lambda written inside co_await twice.
    auto handler = [q](corio::stream s) { return hand_over(q, std::move(s)); };
    p.srv = co_await corio::start_server(std::move(handler), host, 0);
    p.client = co_await corio::open_connection(p.srv.addresses().at(0));
    p.served = co_await q->get();
    co_return p;
}

// Runs `main` on a fresh loop; exceptions the loop reports (a failing handler) are kept
// in `reports`. Checks afterwards that no descriptor and no frame leaked.
struct run_result {
    std::vector<std::exception_ptr> reports;
    int fds_before = 0, fds_after = 0;
    long frames_after = 0;
};

template <class MakeMain>
run_result run_checked(MakeMain make_main) {
    run_result r;
    r.fds_before = open_fd_count();
    {
        auto reports = std::make_shared<std::vector<std::exception_ptr>>();
        corio::run([&]() -> corio::task<void> {
            corio::get_running_loop().set_exception_handler(
                [reports](std::exception_ptr e) { reports->push_back(e); });
            co_await make_main();
        }());
        r.reports = *reports;
    }
    r.fds_after = open_fd_count();
    r.frames_after = live_frames();
    return r;
}

// The exception of type E that `work` throws, or nullopt if it finishes; any other
// exception propagates (and fails the test).
template <class E, class Awaitable>
corio::task<std::optional<E>> catch_as(Awaitable work) {
    try {
        co_await std::move(work);
    } catch (const E& e) {
        co_return e;
    }
    co_return std::nullopt;
}

inline std::string what(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        return ex.what();
    } catch (...) {
        return "?";
    }
}

// Nothing reported by the loop, and no descriptor or frame left behind.
inline void require_clean(const run_result& r) {
    for (auto& e : r.reports) FAIL("reported: " << what(e));
    REQUIRE(r.fds_after == r.fds_before);
    REQUIRE(r.frames_after == 0);
}

} // namespace net_test
