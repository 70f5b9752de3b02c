// The same task-level measurements as task_corio.cpp, with Boost.Asio's C++20
// coroutines (awaitable<T>, co_spawn), printed as `BENCH name value unit` lines.
#include <utility> // Boost 1.74 asio/awaitable.hpp uses std::exchange without it
#include <boost/asio.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using namespace std::chrono;

namespace {

awaitable<int> trivial(int v) { co_return v; }

awaitable<long> chain(int depth) {
    if (depth == 0) co_return 1;
    co_return 1 + co_await chain(depth - 1);
}

double seconds_since(steady_clock::time_point t) {
    return duration<double>(steady_clock::now() - t).count();
}

// Asio has no range gather in this version: spawn each child, count completions, and
// wake the parent through a timer it waits on.
awaitable<void> gather_trivial(int width, long& sink) {
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer done(ex, steady_clock::time_point::max());
    int remaining = width;
    for (int i = 0; i < width; ++i)
        asio::co_spawn(ex, trivial(i), [&](std::exception_ptr, int v) {
            sink += v;
            if (--remaining == 0) done.cancel();
        });
    boost::system::error_code ec;
    co_await done.async_wait(asio::redirect_error(use_awaitable, ec));
}

awaitable<void> micro() {
    long sink = 0;
    for (int i = 0; i < 100000; ++i) sink += co_await trivial(i);

    // 20 batches of a million; the median batch, so that a burst of the shared machine's
    // other work during one batch does not decide the figure (task_corio.cpp does the same).
    const int batches = 20, n = 1'000'000;
    double batch_ns[batches];
    for (int b = 0; b < batches; ++b) {
        auto t = steady_clock::now();
        for (int i = 0; i < n; ++i) sink += co_await trivial(i);
        batch_ns[b] = seconds_since(t) * 1e9 / n;
    }
    std::sort(batch_ns, batch_ns + batches);
    std::printf("BENCH asio.task_await_ns %.2f ns\n", (batch_ns[batches / 2 - 1] + batch_ns[batches / 2]) / 2);

    const int chains = 2000;
    auto t = steady_clock::now();
    for (int i = 0; i < chains; ++i) sink += co_await chain(1000);
    std::printf("BENCH asio.chain1000_per_await_ns %.2f ns\n", seconds_since(t) * 1e9 / (chains * 1001.0));

    const int rounds = 100, width = 10'000;
    t = steady_clock::now();
    for (int r = 0; r < rounds; ++r) co_await gather_trivial(width, sink);
    std::printf("BENCH asio.gather10k_per_child_ns %.2f ns\n", seconds_since(t) * 1e9 / (rounds * double(width)));
    if (sink == 42) std::puts("");
}

} // namespace

int main() {
    asio::io_context ctx(1);
    asio::co_spawn(ctx, micro(), asio::detached);
    ctx.run();
}
