#pragma once
// A fresh directory under the system's temporary directory, removed with everything in
// it when the test is done.
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

#include "corio_test.hpp"

namespace test_support {

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

} // namespace test_support
