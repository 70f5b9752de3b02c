#define CORIO_COUNT_FRAMES 1
#include "corio_test.hpp"

#include <memory>
#include <string>
#include <vector>

namespace {

corio::task<int> answer() { co_return 42; }
corio::task<void> nothing() { co_return; }
corio::task<int&> ref_to(int& x) { co_return x; }
corio::task<std::unique_ptr<int>> boxed(int v) { co_return std::make_unique<int>(v); }
corio::task<int> throws() {
    throw std::runtime_error("child failed");
    co_return 0;
}
corio::task<int> one() { co_return 1; }

corio::task<long> many_sync_awaits(long n) {
    long sum = 0;
    for (long i = 0; i < n; ++i) sum += co_await one();
    co_return sum;
}

corio::task<long> nested(int depth) {
    if (depth == 0) co_return 0;
    co_return 1 + co_await nested(depth - 1);
}

} // namespace

TEST_CASE("task returns values, void, references and move-only types") {
    REQUIRE(corio::run(answer()) == 42);
    corio::run(nothing());

    int x = 5;
    corio::run([&]() -> corio::task<void> {
        int& r = co_await ref_to(x);
        r = 7;
    }());
    REQUIRE(x == 7);

    auto p = corio::run(boxed(9));
    REQUIRE(p);
    REQUIRE(*p == 9);
}

TEST_CASE("an exception propagates to the awaiter and out of run") {
    bool caught = false;
    corio::run([&]() -> corio::task<void> {
        try {
            co_await throws();
        } catch (const std::runtime_error& e) {
            caught = std::string(e.what()) == "child failed";
        }
    }());
    REQUIRE(caught);
    REQUIRE_THROWS_WITH(corio::run(throws()), "child failed");
}

TEST_CASE("a task is lazy and a never-run task frees its frame") {
    long before = corio::detail::live_frames.load();
    bool ran = false;
    {
        std::vector<corio::task<void>> kept; // escapes, so clang cannot elide the frame
        kept.push_back([](bool* flag) -> corio::task<void> {
            *flag = true;
            co_return;
        }(&ran));
        REQUIRE(corio::detail::live_frames.load() == before + 1);
    }
    REQUIRE_FALSE(ran);
    REQUIRE(corio::detail::live_frames.load() == before);
}

TEST_CASE("a million synchronously completing awaits do not grow the stack") {
    // Would overflow the default 8 MiB stack if each await nested a frame.
    long before = corio::detail::live_frames.load();
    REQUIRE(corio::run(many_sync_awaits(1'000'000)) == 1'000'000);
    REQUIRE(corio::detail::live_frames.load() == before);
}

TEST_CASE("deep recursive await chains work") {
    REQUIRE(corio::run(nested(1000)) == 1000);
}

TEST_CASE("awaiting a task from a foreign awaiter context works without a loop slot") {
    // A task awaited inside another task inside run: nothing special, but exercise
    // awaiting an lvalue task too.
    REQUIRE(corio::run([]() -> corio::task<int> {
        auto t = answer();
        co_return co_await t;
    }()) == 42);
}
