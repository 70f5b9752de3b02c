#define CORIO_COUNT_FRAMES 1
#include "corio_test.hpp"
#include "helpers/fd_count.hpp"

#include <dirent.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

using test_support::open_fd_count;

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

corio::task<void> sleeper(std::chrono::milliseconds d, bool* cancelled) {
    try {
        co_await corio::sleep(d);
    } catch (const corio::cancelled_error&) {
        *cancelled = true;
        throw;
    }
}

} // namespace

TEST_CASE("call_soon runs callbacks in order on a later turn") {
    std::vector<int> order;
    corio::run([&]() -> corio::task<void> {
        auto& loop = corio::get_running_loop();
        loop.call_soon([&] { order.push_back(1); });
        loop.call_soon([&] { order.push_back(2); });
        order.push_back(0);
        co_await corio::sleep(0ms);
        co_await corio::sleep(0ms);
    }());
    REQUIRE(order == std::vector<int>{0, 1, 2});
}

TEST_CASE("call_soon takes move-only callables; a copied exception handler still works") {
    int sum = 0, reported = 0;
    corio::run([&]() -> corio::task<void> {
        auto& loop = corio::get_running_loop();
        auto five = std::make_unique<int>(5);
        loop.call_soon([p = std::move(five), &sum] { sum += *p; });
        corio::exception_handler h = [&](std::exception_ptr) { ++reported; };
        loop.set_exception_handler(h); // a copy: h stays usable
        h(nullptr);
        loop.call_soon([] { throw std::runtime_error("boom"); });
        co_await corio::sleep(0ms);
        co_await corio::sleep(0ms);
    }());
    REQUIRE(sum == 5);
    REQUIRE(reported == 2);
}

TEST_CASE("call_soon_threadsafe wakes a sleeping loop") {
    std::atomic<bool> called{false};
    corio::run([&]() -> corio::task<void> {
        auto& loop = corio::get_running_loop();
        corio::event ev;
        std::thread t([&] {
            std::this_thread::sleep_for(50ms);
            loop.call_soon_threadsafe([&] {
                called = true;
                ev.set();
            });
        });
        // Nothing else would wake the loop: no timers, no descriptors.
        co_await ev.wait();
        t.join();
    }());
    REQUIRE(called);
}

TEST_CASE("an idle loop does not burn CPU") {
    bool cancelled = false;
    double used = 0;
    corio::run([&]() -> corio::task<void> {
        auto long_sleep = corio::spawn(sleeper(10s, &cancelled));
        co_await corio::sleep(10ms); // let it start
        double before = cpu_seconds();
        co_await corio::sleep(400ms);
        used = cpu_seconds() - before;
    }());
    INFO("CPU seconds used while idle: " << used);
    REQUIRE(used < 0.1); // a spinning loop would use ~0.4 s
    REQUIRE(cancelled);  // run() cancelled the leftover task on the way out
}

TEST_CASE("run cancels and destroys everything it spawned; nothing leaks") {
    long frames = corio::detail::live_frames.load();
    int fds = open_fd_count();
    bool cancelled[3] = {};
    int r = corio::run([&]() -> corio::task<int> {
        for (bool& c : cancelled) (void)corio::spawn(sleeper(1h, &c)); // handles dropped: detached
        co_await corio::sleep(1ms);
        co_return 7;
    }());
    REQUIRE(r == 7);
    for (bool c : cancelled) REQUIRE(c);
    REQUIRE(corio::detail::live_frames.load() == frames);
    REQUIRE(open_fd_count() == fds);
}

TEST_CASE("one loop per thread: run inside run is an error") {
    REQUIRE_THROWS_AS(corio::run([]() -> corio::task<void> {
                          corio::run([]() -> corio::task<void> { co_return; }());
                          co_return;
                      }()),
                      std::logic_error);
}

TEST_CASE("awaitables outside a loop give a clear error") {
    REQUIRE_THROWS_AS(corio::get_running_loop(), std::logic_error);
}

TEST_CASE("separate threads run separate loops") {
    std::atomic<int> sum{0};
    std::vector<std::thread> threads;
    for (int i = 1; i <= 3; ++i)
        threads.emplace_back([&, i] {
            sum += corio::run([](int v) -> corio::task<int> {
                co_await corio::sleep(5ms);
                co_return v;
            }(i));
        });
    for (auto& t : threads) t.join();
    REQUIRE(sum == 6);
}
