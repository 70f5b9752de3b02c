// corio's task-level costs, printed as `BENCH name value unit` lines for bench/run:
//   task_corio             trivial task create+await+destroy, 1000-deep chains, gather of 10k
//   task_corio --sleepers N   N tasks each sleep(1s) under one gather: wall time, RSS per task
#include <corio/corio.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

using namespace std::chrono;

namespace {

corio::task<int> trivial(int v) { co_return v; }

corio::task<long> chain(int depth) {
    if (depth == 0) co_return 1;
    co_return 1 + co_await chain(depth - 1);
}

double seconds_since(steady_clock::time_point t) {
    return duration<double>(steady_clock::now() - t).count();
}

long rss_kib() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
    return 0;
}

corio::task<void> micro() {
    // Warm the frame cache and the branch predictors first.
    long sink = 0;
    for (int i = 0; i < 100000; ++i) sink += co_await trivial(i);

    // 20 batches of a million; the median batch, so that a burst of the shared machine's
    // other work during one batch does not decide the figure (task_asio.cpp does the same).
    const int batches = 20, n = 1'000'000;
    double batch_ns[batches];
    for (int b = 0; b < batches; ++b) {
        auto t = steady_clock::now();
        for (int i = 0; i < n; ++i) sink += co_await trivial(i);
        batch_ns[b] = seconds_since(t) * 1e9 / n;
    }
    std::sort(batch_ns, batch_ns + batches);
    std::printf("BENCH corio.task_await_ns %.2f ns\n", (batch_ns[batches / 2 - 1] + batch_ns[batches / 2]) / 2);

    const int chains = 2000;
    auto t = steady_clock::now();
    for (int i = 0; i < chains; ++i) sink += co_await chain(1000);
    std::printf("BENCH corio.chain1000_per_await_ns %.2f ns\n", seconds_since(t) * 1e9 / (chains * 1001.0));

    const int rounds = 100, width = 10'000;
    double total = 0;
    for (int r = 0; r < rounds; ++r) {
        std::vector<corio::task<int>> ts;
        ts.reserve(width);
        auto t0 = steady_clock::now();
        for (int i = 0; i < width; ++i) ts.push_back(trivial(i));
        auto out = co_await corio::gather(std::move(ts));
        total += seconds_since(t0);
        sink += out.back();
    }
    std::printf("BENCH corio.gather10k_per_child_ns %.2f ns\n", total * 1e9 / (rounds * double(width)));
    if (sink == 42) std::puts(""); // keep the work observable
}

corio::task<void> sleeper() { co_await corio::sleep(1s); }

corio::task<void> sleepers(int n) {
    long before = rss_kib();
    auto t = steady_clock::now();
    std::vector<corio::task<void>> ts;
    ts.reserve(n);
    for (int i = 0; i < n; ++i) ts.push_back(sleeper());
    co_await corio::gather(std::move(ts));
    double wall = seconds_since(t);
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    std::printf("BENCH corio.sleepers_wall_s %.3f s\n", wall);
    std::printf("BENCH corio.sleepers_rss_per_task_bytes %.1f B\n", (ru.ru_maxrss - before) * 1024.0 / n);
}

} // namespace

int main(int argc, char** argv) {
    if (argc == 3 && !std::strcmp(argv[1], "--sleepers")) {
        corio::run(sleepers(std::atoi(argv[2])));
        return 0;
    }
    corio::run(micro());
}
