#pragma once
// The precompiled prefix of every test: what corio_test.hpp brings (Catch2 and corio).
#include "corio_test.hpp"
