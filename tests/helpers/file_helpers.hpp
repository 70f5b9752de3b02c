#pragma once
// Shared by the file tests: a temporary directory, reproducible file contents, and the
// exception an awaitable throws.
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <utility>

#include "corio_test.hpp"

namespace test_support {

// A fresh directory under the system's temporary directory, removed with everything in
// it when the test is done.
struct temp_dir {
    std::filesystem::path path;
    explicit temp_dir(const char* prefix = "corio_test") {
        std::string tmpl = (std::filesystem::temp_directory_path() / (std::string(prefix) + ".XXXXXX")).string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// Deterministic bytes, different per seed.
inline std::string pattern(std::size_t n, unsigned seed) {
    std::string s(n, '\0');
    std::mt19937 rng(seed);
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
}

// The exception of type E that `work` throws, or nullopt.
template <class E, class Awaitable>
corio::task<std::optional<E>> error_of(Awaitable work) {
    try {
        co_await std::move(work);
    } catch (const E& e) {
        co_return e;
    }
    co_return std::nullopt;
}

// Cancels op after `turns` yields of the canceller: 0, before op starts; 1, once op waits
// for its system call (on the pool, queued behind a blocker; on io_uring, submitted to the
// ring and maybe done, not yet reaped: it must still end cancelled); 2, once a cached
// read has completed and op's resumption is queued behind the canceller. True if it ended
// cancelled.
template <class T>
corio::task<bool> cancelled_at(corio::task<T> op, int turns) {
    auto h = corio::spawn(std::move(op));
    for (int i = 0; i < turns; ++i) co_await corio::sleep(std::chrono::seconds(0));
    REQUIRE_FALSE(h.done());
    h.cancel();
    try {
        co_await h;
    } catch (const corio::cancelled_error&) {
        co_return true;
    }
    co_return false;
}

} // namespace test_support
