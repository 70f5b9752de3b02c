#define CORIO_COUNT_FRAMES 1
#include "corio_test.hpp"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

using namespace std::chrono_literals;

TEST_CASE("timer heap keeps order under random inserts and removals") {
    corio::detail::timer_heap heap;
    std::vector<corio::detail::timer_node> nodes(2000);
    std::vector<std::int64_t> deadline(nodes.size());
    std::mt19937 rng(42);
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        deadline[i] = rng() % 500;
        heap.push(&nodes[i], deadline[i]);
    }
    for (std::size_t i = 0; i < nodes.size(); i += 3) heap.remove(&nodes[i]); // cancel a third
    REQUIRE(heap.size() == nodes.size() - (nodes.size() + 2) / 3);
    std::int64_t last = -1;
    std::uint32_t last_seq = 0;
    while (!heap.empty()) {
        REQUIRE(heap.next_deadline() >= last);
        std::int64_t d = heap.next_deadline();
        auto* n = heap.pop();
        REQUIRE_FALSE(n->pending());
        REQUIRE(deadline[n - nodes.data()] == d);
        REQUIRE((n - nodes.data()) % 3 != 0); // cancelled ones never come out
        if (d == last) REQUIRE(n->seq > last_seq); // FIFO among equal deadlines
        last = d;
        last_seq = n->seq;
    }
}

TEST_CASE("sleeps wake in deadline order") {
    std::vector<int> order;
    corio::run([&]() -> corio::task<void> {
        auto at = [&](int ms) -> corio::task<void> {
            co_await corio::sleep(std::chrono::milliseconds(ms));
            order.push_back(ms);
        };
        co_await corio::gather(at(30), at(10), at(20), at(0));
    }());
    REQUIRE(order == std::vector<int>{0, 10, 20, 30});
}

TEST_CASE("sleep waits at least its duration; sleep_until too") {
    corio::run([]() -> corio::task<void> {
        auto start = std::chrono::steady_clock::now();
        co_await corio::sleep(20ms);
        REQUIRE(std::chrono::steady_clock::now() - start >= 20ms);
        auto deadline = std::chrono::steady_clock::now() + 15ms;
        co_await corio::sleep_until(deadline);
        REQUIRE(std::chrono::steady_clock::now() >= deadline);
        co_await corio::sleep_until(std::chrono::system_clock::now() + 5ms); // other clocks
    }());
}

TEST_CASE("sleep(0) yields to the other ready tasks") {
    std::string trace;
    corio::run([&]() -> corio::task<void> {
        auto worker = [&](char c) -> corio::task<void> {
            for (int i = 0; i < 3; ++i) {
                trace += c;
                co_await corio::sleep(0s);
            }
        };
        co_await corio::gather(worker('a'), worker('b'));
    }());
    REQUIRE(trace == "ababab");
}

TEST_CASE("ten thousand concurrent sleepers all wake") {
    long frames = corio::detail::live_frames.load();
    int woke = 0;
    corio::run([&]() -> corio::task<void> {
        std::vector<corio::task<void>> tasks;
        for (int i = 0; i < 10'000; ++i)
            tasks.push_back([](int* n, int i) -> corio::task<void> {
                co_await corio::sleep(std::chrono::milliseconds(i % 50));
                ++*n;
            }(&woke, i));
        co_await corio::gather(tasks);
    }());
    REQUIRE(woke == 10'000);
    REQUIRE(corio::detail::live_frames.load() == frames);
}

TEST_CASE("wait_for returns the value when the work finishes in time") {
    int v = corio::run([]() -> corio::task<int> {
        co_return co_await corio::wait_for(
            []() -> corio::task<int> {
                co_await corio::sleep(5ms);
                co_return 11;
            }(),
            5s);
    }());
    REQUIRE(v == 11);
}

TEST_CASE("wait_for cancels the work, waits for it to unwind, then throws timeout_error") {
    bool inner_cancelled = false, cleanup_finished = false, saw_timeout = false;
    corio::run([&]() -> corio::task<void> {
        auto slow = [&]() -> corio::task<int> {
            try {
                co_await corio::sleep(10s);
            } catch (const corio::cancelled_error&) {
                inner_cancelled = true; // C++ forbids co_await inside a handler
            }
            if (inner_cancelled) {
                co_await corio::sleep(20ms); // cleanup that itself awaits
                cleanup_finished = true;
                throw corio::cancelled_error();
            }
            co_return 1;
        };
        try {
            co_await corio::wait_for(slow(), 20ms);
        } catch (const corio::timeout_error&) {
            saw_timeout = true;
            REQUIRE(cleanup_finished); // the inner work had unwound completely
        }
    }());
    REQUIRE(inner_cancelled);
    REQUIRE(saw_timeout);
}

TEST_CASE("wait_for accepts any awaitable and passes other exceptions through") {
    corio::run([]() -> corio::task<void> {
        co_await corio::wait_for(corio::sleep(1ms), 1s);
        REQUIRE_THROWS_AS(co_await corio::wait_for(corio::sleep(1s), 5ms), corio::timeout_error);
        auto failing = []() -> corio::task<void> {
            co_await corio::sleep(1ms);
            throw std::out_of_range("inner");
        };
        REQUIRE_THROWS_AS(co_await corio::wait_for(failing(), 1s), std::out_of_range);
    }());
}

TEST_CASE("cancelling the task that awaits wait_for cancels the work") {
    bool inner_cancelled = false;
    corio::run([&]() -> corio::task<void> {
        auto h = corio::spawn([&]() -> corio::task<void> {
            co_await corio::wait_for(
                [&]() -> corio::task<void> {
                    try {
                        co_await corio::sleep(10s);
                    } catch (const corio::cancelled_error&) {
                        inner_cancelled = true;
                        throw;
                    }
                }(),
                5s);
        });
        co_await corio::sleep(10ms);
        h.cancel();
        REQUIRE_THROWS_AS(co_await h, corio::cancelled_error);
    }());
    REQUIRE(inner_cancelled);
}
