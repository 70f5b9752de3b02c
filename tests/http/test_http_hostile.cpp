// The HTTP client against a server that breaks HTTP on purpose (tests/http/hostile_server.py,
// over loopback): every attack must end in the right error, quickly, with bounded memory.
#include "corio_test.hpp"

#include <corio/http.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

using namespace std::chrono_literals;
namespace http = corio::http;

// No co_await inside CHECK/REQUIRE (see test_http_client.cpp): results go through variables.

namespace {

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

#if defined(__SANITIZE_ADDRESS__)
constexpr bool under_asan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool under_asan = true;
#else
constexpr bool under_asan = false;
#endif
#else
constexpr bool under_asan = false;
#endif

// python3 tests/http/hostile_server.py on an ephemeral port, which it reports on its stdout;
// killed at the end.
struct hostile_server {
    pid_t pid = -1;
    std::uint16_t port = 0;

    hostile_server() {
        std::string script = (std::filesystem::path(__FILE__).parent_path() / "hostile_server.py").string();
        int out[2];
        REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
        std::vector<std::string> args{"python3", script};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        int rc = posix_spawnp(&pid, "python3", &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        ::close(out[1]);
        std::string line;
        char c = 0;
        while (rc == 0 && ::read(out[0], &c, 1) == 1 && c != '\n') line += c;
        ::close(out[0]);
        REQUIRE(rc == 0);
        REQUIRE(!line.empty()); // the script died before listening
        port = static_cast<std::uint16_t>(std::stoul(line));
    }
    ~hostile_server() {
        if (pid > 0) {
            ::kill(pid, SIGTERM);
            ::waitpid(pid, nullptr, 0);
        }
    }
    hostile_server(const hostile_server&) = delete;
    hostile_server& operator=(const hostile_server&) = delete;

    std::string url(std::string_view path_and_query) const {
        return "http://127.0.0.1:" + std::to_string(port) + std::string(path_and_query);
    }
};

// The error `work` ends with: what() of an E, or a line saying it ended otherwise.
template <class E, class Awaitable>
corio::task<std::string> error_of(Awaitable work) {
    try {
        co_await std::move(work);
    } catch (const E& e) {
        co_return std::string(e.what());
    } catch (const std::exception& e) {
        co_return std::string("(another error) ") + e.what();
    }
    co_return std::string("(no error)");
}

corio::task<std::string> get_body(http::client& c, std::string url) {
    auto r = co_await c.get(std::move(url));
    co_return co_await r.read();
}

// Small limits everywhere, so each attack ends quickly; total_timeout catches what the
// others cannot.
http::client_options hostile_options() {
    http::client_options o;
    o.connect_timeout = 2s;
    o.read_timeout = 200ms;
    o.total_timeout = 2s;
    o.max_body_size = 1 << 20;
    return o;
}

corio::task<void> malformed_responses(const hostile_server& srv) {
    http::client c(hostile_options());
    auto v0 = co_await error_of<http::protocol_error>(c.get(srv.url("/endless-status-line")));
    CHECK(contains(v0, "status line too long (limit 8192 bytes)"));
    auto v1 = co_await error_of<http::protocol_error>(c.get(srv.url("/endless-headers")));
    CHECK(contains(v1, "too many header fields (limit 100)"));
    auto v2 = co_await error_of<http::protocol_error>(c.get(srv.url("/endless-header-value")));
    CHECK(contains(v2, "header section too large (limit 65536 bytes)"));
    auto v3 = co_await error_of<http::protocol_error>(get_body(c, srv.url("/lying-length")));
    CHECK(contains(v3, "body cut short: connection closed after 10 of 100 bytes"));
    auto v4 = co_await error_of<http::protocol_error>(c.get(srv.url("/conflicting-length")));
    CHECK(contains(v4, "conflicting Content-Length values 5 and 50"));
    auto v5 = co_await error_of<http::protocol_error>(get_body(c, srv.url("/chunk-overflow")));
    CHECK(contains(v5, "chunk size overflows 64 bits"));
    auto v6 = co_await error_of<http::protocol_error>(get_body(c, srv.url("/chunk-line-endless")));
    CHECK(contains(v6, "chunk-size line too long (limit 4096 bytes)"));
    auto v8 = co_await error_of<http::protocol_error>(get_body(c, srv.url("/endless-trailers")));
    CHECK(contains(v8, "too many trailer fields (limit 100)"));
    auto v7 = co_await error_of<http::protocol_error>(c.get(srv.url("/interim-flood")));
    CHECK(contains(v7, "too many interim (1xx) responses (limit 16)"));
    CHECK(c.idle_connections() == 0); // no broken connection goes back to the pool

    auto ok = co_await get_body(c, srv.url("/ok"));
    CHECK(ok == "ok");
}

corio::task<void> redirect_loop(const hostile_server& srv) {
    http::client c(hostile_options());
    std::vector<std::string> history;
    std::string what = "(no error)";
    try {
        co_await c.get(srv.url("/redirect-loop"));
    } catch (const http::too_many_redirects& e) {
        what = e.what();
        history = e.history;
    }
    CHECK(contains(what, "too many redirects (limit 10), last: " + srv.url("/redirect-loop")));
    CHECK(history.size() == 12);
    CHECK(c.connections_opened() == 1); // each hop's empty body was read, the connection reused

    // A redirect whose body never comes is followed all the same, on a new connection.
    auto v1 = co_await get_body(c, srv.url("/redirect-stall"));
    CHECK(v1 == "ok");
}

corio::task<void> slow_and_silent(const hostile_server& srv) {
    http::client c(hostile_options());
    // A byte every 10 ms is slow, not silent: read_timeout (200 ms) lets it through.
    http::client_options patient = hostile_options();
    patient.total_timeout = 0ms;
    http::client p(patient);
    auto v1 = co_await get_body(p, srv.url("/drip?ms=10"));
    CHECK(v1 == "dripped body");

    // Silent: read_timeout, wherever the silence falls.
    auto v2 = co_await error_of<http::read_timeout>(c.get(srv.url("/never-answer")));
    CHECK(contains(v2, "reading the response from " + srv.url("/never-answer") +
                           " timed out (read_timeout 200 ms without a byte)"));
    auto v3 = co_await error_of<http::read_timeout>(c.get(srv.url("/stall-headers")));
    CHECK(contains(v3, "(read_timeout 200 ms without a byte)"));
    auto v4 = co_await error_of<http::read_timeout>(get_body(c, srv.url("/stall-body")));
    CHECK(contains(v4, "(read_timeout 200 ms without a byte)"));

    // Headers dripped forever, each byte within read_timeout: total_timeout ends it.
    auto v5 = co_await error_of<http::request_timeout>(c.get(srv.url("/header-drip?ms=20")));
    CHECK(contains(v5, "request to " + srv.url("/header-drip?ms=20") + " timed out (total_timeout 2000 ms)"));
    CHECK(c.idle_connections() == 0);
}

corio::task<void> ten_gib(const hostile_server& srv) {
    http::client c(hostile_options());
    const std::string n = "?n=" + std::to_string(10ull << 30);
    // Declared: refused before a byte of it is read.
    auto declared = co_await c.get(srv.url("/huge-length" + n));
    CHECK(declared.content_length() == 10ull << 30);
    auto v1 = co_await error_of<http::body_too_large>(declared.read());
    CHECK(contains(v1, "response body exceeds max_body_size (1048576 bytes)"));
    for (const char* path : {"/huge-chunked", "/huge-close"}) {
        auto v2 = co_await error_of<http::body_too_large>(get_body(c, srv.url(path + n)));
        CHECK(contains(v2, "response body exceeds max_body_size (1048576 bytes)"));
    }
    // Streamed, it flows in pieces of at most chunk_size, for as long as it is read.
    auto streamed = co_await c.get(srv.url("/huge-chunked" + n));
    std::size_t total = 0, largest = 0;
    while (total < (64u << 20)) {
        std::string piece = co_await streamed.read_chunk();
        REQUIRE(!piece.empty());
        largest = std::max(largest, piece.size());
        total += piece.size();
    }
    CHECK(largest <= c.options().chunk_size);
    streamed.close();
    CHECK(c.idle_connections() == 0);
}

// ------------------------------------------------------------------ peak memory of read()

long long status_kib(const char* field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    std::size_t n = std::strlen(field);
    while (std::getline(in, line))
        if (line.compare(0, n, field) == 0) return std::stoll(line.substr(n));
    return -1;
}

struct peak_report {
    long long baseline_kib = 0; // resident before the request
    long long peak_kib = 0;     // the high-water mark after it
    std::uint64_t size = 0;     // bytes read(), when it succeeded
    char error[512] = {};       // what() of its exception, otherwise
};

// The high-water mark is read inside the task: corio::run hands its result back by copy.
corio::task<void> read_whole(std::string url, std::size_t limit, peak_report& rep) {
    http::client_options o;
    o.max_body_size = limit;
    http::client c(o);
    try {
        auto r = co_await c.get(std::move(url));
        std::string body = co_await r.read();
        rep.size = body.size();
    } catch (const std::exception& e) {
        std::snprintf(rep.error, sizeof rep.error, "%s", e.what());
    }
    rep.peak_kib = status_kib("VmHWM:");
}

// Runs one read() in a child process, so the high-water mark belongs to that request
// alone: reset after fork (clear_refs 5), read once the request is over.
peak_report measure_read(const std::string& url, std::size_t limit) {
    int p[2];
    REQUIRE(::pipe(p) == 0);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::close(p[0]);
        peak_report rep;
        std::ofstream("/proc/self/clear_refs") << "5";
        rep.baseline_kib = status_kib("VmRSS:");
        corio::run(read_whole(url, limit, rep));
        (void)!::write(p[1], &rep, sizeof rep);
        ::_exit(0);
    }
    ::close(p[1]);
    peak_report rep;
    auto got = ::read(p[0], &rep, sizeof rep);
    ::close(p[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    REQUIRE(got == static_cast<long>(sizeof rep));
    REQUIRE(WIFEXITED(status));
    return rep;
}

} // namespace

TEST_CASE("hostile: endless or malformed headers, lying lengths, broken chunks, a 1xx flood", "[http][hostile]") {
    hostile_server srv;
    corio::run(malformed_responses(srv));
}

TEST_CASE("hostile: a redirect loop ends at max_redirects", "[http][hostile]") {
    hostile_server srv;
    corio::run(redirect_loop(srv));
}

TEST_CASE("hostile: dripping, stalling and silent servers meet read_timeout or total_timeout", "[http][hostile]") {
    hostile_server srv;
    corio::run(slow_and_silent(srv));
}

TEST_CASE("hostile: a 10 GiB body stops at max_body_size, in bounded memory", "[http][hostile]") {
    hostile_server srv;
    corio::run(ten_gib(srv));
    // In a child process, so the high-water mark is that of the request alone.
    const std::string n = "?n=" + std::to_string(10ull << 30);
    for (const char* path : {"/huge-chunked", "/huge-close"}) {
        peak_report rep = measure_read(srv.url(path + n), 1 << 20);
        INFO(path << ": " << rep.error);
        CHECK(contains(rep.error, "response body exceeds max_body_size (1048576 bytes)"));
        if (!under_asan) CHECK(rep.peak_kib - rep.baseline_kib <= 8 * 1024);
    }
}

TEST_CASE("hostile: read() peaks near max_body_size, not twice it, for every framing", "[http][hostile]") {
    hostile_server srv;
    constexpr std::size_t limit = 64u << 20;
    constexpr long long slack_kib = 8 * 1024; // the loop, the client, a read's pieces
    for (const char* path : {"/huge-chunked", "/huge-close", "/huge-length"}) {
        for (std::size_t n : {limit - 1, limit + 1}) {
            peak_report rep = measure_read(srv.url(std::string(path) + "?n=" + std::to_string(n)), limit);
            long long grew = rep.peak_kib - rep.baseline_kib;
            std::printf("%s n=%zu: peak %lld KiB above the %lld KiB baseline (%.2fx max_body_size)%s%s\n", path, n,
                        grew, rep.baseline_kib, static_cast<double>(grew) * 1024 / limit, rep.error[0] ? ": " : "",
                        rep.error);
            INFO(path << " with " << n << " bytes: " << rep.error);
            if (n < limit) {
                CHECK(rep.size == n);
                CHECK(rep.error[0] == '\0');
            } else {
                CHECK(contains(rep.error, "exceeds max_body_size (67108864 bytes)"));
            }
            CHECK(rep.baseline_kib > 0);
            // ASan's quarantine keeps freed buffers resident: only the errors are checked there.
            if (!under_asan) CHECK(grew <= static_cast<long long>(limit / 1024 * 5 / 4) + slack_kib);
        }
    }
}
