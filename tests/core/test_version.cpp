#include <string>

#include <corio/version.hpp>

#include "corio_test.hpp"

TEST_CASE("version.hpp matches the CMake project version") {
    std::string header = std::to_string(CORIO_VERSION_MAJOR) + "." + std::to_string(CORIO_VERSION_MINOR) + "." +
                         std::to_string(CORIO_VERSION_PATCH);
    REQUIRE(header == CORIO_PROJECT_VERSION);
    REQUIRE(CORIO_VERSION == CORIO_VERSION_MAJOR * 10000 + CORIO_VERSION_MINOR * 100 + CORIO_VERSION_PATCH);
}
