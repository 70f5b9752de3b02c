#pragma once

// The one header every test includes: Catch2 v2 or v3, whichever CMake found, plus corio.
#ifndef CORIO_CATCH2_MAJOR
#if __has_include(<catch2/catch_test_macros.hpp>)
#define CORIO_CATCH2_MAJOR 3
#else
#define CORIO_CATCH2_MAJOR 2
#endif
#endif

#if CORIO_CATCH2_MAJOR >= 3
#include <catch2/catch_all.hpp>
using Catch::Approx; // v2 puts Approx in the global namespace
#else
#include <catch2/catch.hpp>
#endif

#include <corio/corio.hpp>
