// The HTTP client against a server that breaks HTTP on purpose (tests/http/hostile_server.py,
// over loopback): every attack must end in the right error, quickly, with bounded memory.
#include "corio_test.hpp"

#include <corio/http.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

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
        std::string script = (std::filesystem::path(__FILE__).parent_path() / "http" / "hostile_server.py").string();
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
