#pragma once
// The clocks, durations and literals corio's API is written in. libstdc++ 12's <chrono>
// also pulls in <sstream> for its C++20 formatting, which no corio header uses; its
// <bits/chrono.h> holds the rest and is what <thread> and <mutex> include themselves.
#if __has_include(<bits/chrono.h>)
#include <bits/chrono.h>
#else
#include <chrono>
#endif
