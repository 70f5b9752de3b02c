#pragma once
// The precompiled prefix of the tests that count live coroutine frames: they define
// CORIO_COUNT_FRAMES before their first include, so the prefix is built with it too.
#define CORIO_COUNT_FRAMES 1
#include "corio_test.hpp"
