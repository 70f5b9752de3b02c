// Catch2 v2's main(), compiled once into corio_test_main; v3 links Catch2WithMain instead.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
