// The round trip of `co_await corio::to_thread(fn)` for an empty fn: loop thread ->
// worker -> loop thread. Prints the median and the 90th/99th percentiles over several
// rounds, and, as a baseline in the same run, a bare std::thread handoff through a mutex
// and condition variable (what a naive hand-written pool pays). The medians of the rounds
// end as `BENCH name value unit` lines for bench/run (target: to_thread <= 10 us).
//
//   g++ -O2 -std=c++20 -Iinclude bench/to_thread.cpp -o to_thread -pthread
//   ./to_thread [iterations]
#include <corio/corio.hpp>
#include <corio/thread_pool.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

double micros(clock_type::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

struct stats {
    double median, p90, p99;
};

stats summarize(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return {v[v.size() / 2], v[v.size() * 9 / 10], v[v.size() * 99 / 100]};
}

void empty() noexcept {}

corio::task<std::vector<double>> corio_round_trips(int n) {
    std::vector<double> out;
    out.reserve(static_cast<std::size_t>(n));
    co_await corio::to_thread(empty); // starts the workers
    for (int i = 0; i < n; ++i) {
        auto t0 = clock_type::now();
        co_await corio::to_thread(empty);
        out.push_back(micros(clock_type::now() - t0));
    }
    co_return out;
}

// One worker, one request slot, mutex + condition variable both ways.
std::vector<double> condvar_round_trips(int n) {
    std::mutex mu;
    std::condition_variable to_worker, to_main;
    bool request = false, reply = false, stop = false;
    std::thread worker([&] {
        std::unique_lock lk(mu);
        for (;;) {
            to_worker.wait(lk, [&] { return request || stop; });
            if (stop) return;
            request = false;
            empty();
            reply = true;
            to_main.notify_one();
        }
    });
    std::vector<double> out;
    out.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        auto t0 = clock_type::now();
        std::unique_lock lk(mu);
        request = true;
        to_worker.notify_one();
        to_main.wait(lk, [&] { return reply; });
        reply = false;
        out.push_back(micros(clock_type::now() - t0));
    }
    {
        std::lock_guard lk(mu);
        stop = true;
    }
    to_worker.notify_one();
    worker.join();
    return out;
}

} // namespace

int main(int argc, char** argv) {
    int n = argc > 1 ? std::atoi(argv[1]) : 20000;
    if (n <= 0) {
        std::fprintf(stderr, "usage: to_thread [iterations]\n");
        return 2;
    }
    const int rounds = 5;
    std::vector<double> corio_medians, condvar_medians;
    for (int r = 0; r < rounds; ++r) {
        stats a = summarize(corio::run(corio_round_trips(n)));
        stats b = summarize(condvar_round_trips(n));
        corio_medians.push_back(a.median);
        condvar_medians.push_back(b.median);
        std::printf("round %d: to_thread median %.2f us (p90 %.2f, p99 %.2f); "
                    "condvar handoff median %.2f us (p90 %.2f, p99 %.2f)\n",
                    r + 1, a.median, a.p90, a.p99, b.median, b.p90, b.p99);
    }
    double a = summarize(corio_medians).median, b = summarize(condvar_medians).median;
    std::printf("to_thread: median round trip of an empty function %.2f us (target <= 10 us); "
                "condvar handoff %.2f us; ratio %.2f\n",
                a, b, a / b);
    std::printf("BENCH corio.to_thread_us %.3f us\n", a);
    std::printf("BENCH condvar.handoff_us %.3f us\n", b);
}
