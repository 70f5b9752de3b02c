#define CORIO_COUNT_FRAMES 1
#include "corio_test.hpp"

#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {
corio::task<int> after(std::chrono::milliseconds d, int v, std::string* trace = nullptr) {
    co_await corio::sleep(d);
    if (trace) *trace += std::to_string(v);
    co_return v;
}
corio::task<void> fail_after(std::chrono::milliseconds d, const char* what) {
    co_await corio::sleep(d);
    throw std::runtime_error(what);
}
// Records whether it was cancelled and whether its cleanup (which awaits) finished.
corio::task<int> watched(std::chrono::milliseconds d, bool* cancelled, bool* cleaned) {
    try {
        co_await corio::sleep(d);
    } catch (const corio::cancelled_error&) {
        *cancelled = true;
    }
    if (*cancelled) {
        co_await corio::sleep(5ms);
        *cleaned = true;
        throw corio::cancelled_error();
    }
    co_return 0;
}
} // namespace

TEST_CASE("gather returns a tuple in argument order; children run concurrently") {
    std::string trace;
    corio::run([&]() -> corio::task<void> {
        auto [a, b, c] = co_await corio::gather(after(30ms, 1, &trace), after(10ms, 2, &trace),
                                                after(20ms, 3, &trace));
        REQUIRE(a == 1);
        REQUIRE(b == 2);
        REQUIRE(c == 3);
    }());
    REQUIRE(trace == "231"); // finish order follows the sleeps, not the arguments
}

TEST_CASE("a void child contributes void_value") {
    corio::run([]() -> corio::task<void> {
        auto [x, nothing] = co_await corio::gather(after(1ms, 5), corio::sleep(1ms));
        REQUIRE(x == 5);
        STATIC_REQUIRE(std::is_same_v<decltype(nothing), corio::void_value>);
    }());
}

TEST_CASE("gather over a range returns a vector") {
    corio::run([]() -> corio::task<void> {
        std::vector<corio::task<int>> tasks;
        for (int i = 0; i < 50; ++i) tasks.push_back(after(std::chrono::milliseconds(50 - i), i));
        std::vector<int> out = co_await corio::gather(std::move(tasks));
        REQUIRE(out.size() == 50);
        for (int i = 0; i < 50; ++i) REQUIRE(out[i] == i);

        std::vector<corio::task<int>> none;
        auto empty = co_await corio::gather(none); // not inside REQUIRE: GCC 12 would await twice
        REQUIRE(empty.empty());

        std::vector<corio::task<void>> voids;
        co_await corio::gather(voids);
    }());
}

TEST_CASE("when a child fails the others are cancelled and awaited, then the error rethrows") {
    bool cancelled[2] = {}, cleaned[2] = {};
    corio::run([&]() -> corio::task<void> {
        try {
            co_await corio::gather(watched(10s, &cancelled[0], &cleaned[0]), fail_after(5ms, "first"),
                                   watched(10s, &cancelled[1], &cleaned[1]), fail_after(8ms, "second"));
            FAIL("gather should have thrown");
        } catch (const std::runtime_error& e) {
            REQUIRE(std::string(e.what()) == "first");
            REQUIRE(cleaned[0]); // no child outlives the gather
            REQUIRE(cleaned[1]);
        }
    }());
    REQUIRE(cancelled[0]);
    REQUIRE(cancelled[1]);
}

TEST_CASE("gather_settled gives each child's value or exception") {
    corio::run([]() -> corio::task<void> {
        auto [a, b, c] = co_await corio::gather_settled(after(5ms, 1), fail_after(1ms, "bad"), after(1ms, 3));
        REQUIRE(a.has_value());
        REQUIRE(a.value() == 1);
        REQUIRE(b.has_exception());
        REQUIRE_THROWS_WITH(b.value(), "bad");
        REQUIRE(c.value() == 3);

        std::vector<corio::task<void>> ts;
        ts.push_back(fail_after(1ms, "x"));
        ts.push_back(corio::detail::into_task(corio::sleep(2ms)));
        auto results = co_await corio::gather_settled(std::move(ts));
        REQUIRE(results.size() == 2);
        REQUIRE(results[0].has_exception());
        REQUIRE(results[1].has_value());
    }());
}

TEST_CASE("cancelling the task awaiting gather cancels every child") {
    bool cancelled[3] = {}, cleaned[3] = {};
    corio::run([&]() -> corio::task<void> {
        auto h = corio::spawn([&]() -> corio::task<void> {
            co_await corio::gather(watched(10s, &cancelled[0], &cleaned[0]),
                                   watched(10s, &cancelled[1], &cleaned[1]),
                                   watched(10s, &cancelled[2], &cleaned[2]));
        });
        co_await corio::sleep(5ms);
        h.cancel();
        REQUIRE_THROWS_AS(co_await h, corio::cancelled_error);
        for (bool c : cleaned) REQUIRE(c);
    }());
    for (bool c : cancelled) REQUIRE(c);
}

TEST_CASE("children that finish synchronously are fine, even thousands of them") {
    long frames = corio::detail::live_frames.load();
    corio::run([]() -> corio::task<void> {
        std::vector<corio::task<int>> tasks;
        for (int i = 0; i < 10'000; ++i) tasks.push_back([](int v) -> corio::task<int> { co_return v; }(i));
        auto out = co_await corio::gather(std::move(tasks));
        long sum = 0;
        for (int v : out) sum += v;
        REQUIRE(sum == 49'995'000L);
        auto [a, b] = co_await corio::gather([]() -> corio::task<int> { co_return 1; }(), after(1ms, 2));
        REQUIRE(a + b == 3);
    }());
    REQUIRE(corio::detail::live_frames.load() == frames);
}

TEST_CASE("race: the first to finish wins, the others are cancelled and awaited") {
    bool cancelled = false, cleaned = false;
    corio::run([&]() -> corio::task<void> {
        auto r = co_await corio::race(watched(10s, &cancelled, &cleaned), after(5ms, 7));
        REQUIRE(r.index() == 1);
        REQUIRE(std::get<1>(r) == 7);
        REQUIRE(cleaned);

        std::vector<corio::task<int>> ts;
        ts.push_back(after(50ms, 0));
        ts.push_back(after(1ms, 1));
        ts.push_back(after(20ms, 2));
        auto [index, value] = co_await corio::race(std::move(ts));
        REQUIRE(index == 1);
        REQUIRE(value == 1);

        // A winner that fails rethrows.
        REQUIRE_THROWS_WITH(co_await corio::race(fail_after(1ms, "lost"), after(1s, 0)), "lost");
    }());
    REQUIRE(cancelled);
}

TEST_CASE("race with the same type twice tells the winners apart by index") {
    corio::run([]() -> corio::task<void> {
        auto r = co_await corio::race(after(20ms, 1), after(1ms, 2));
        REQUIRE(r.index() == 1);
    }());
}
