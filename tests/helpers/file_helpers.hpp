#pragma once
// Shared by the file tests: a temporary directory, reproducible file contents, and the
// exception an awaitable throws.
#include <stdlib.h>

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

} // namespace test_support
