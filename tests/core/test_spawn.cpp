#define CORIO_COUNT_FRAMES 1
#include "corio_test.hpp"

#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {
corio::task<int> after(std::chrono::milliseconds d, int v) {
    co_await corio::sleep(d);
    co_return v;
}
corio::task<void> fail_after(std::chrono::milliseconds d) {
    co_await corio::sleep(d);
    throw std::runtime_error("detached failure");
}
} // namespace

TEST_CASE("a spawned task runs concurrently and its handle gives the value") {
    std::string trace;
    corio::run([&]() -> corio::task<void> {
        auto h = corio::spawn([&]() -> corio::task<int> {
            trace += "child ";
            co_await corio::sleep(5ms);
            co_return 3;
        });
        trace += "parent ";
        REQUIRE_FALSE(h.done());
        int v = co_await h;
        REQUIRE(v == 3);
        REQUIRE(h.done());
        REQUIRE(h.result() == 3);
        int again = co_await h; // awaiting a finished task gives the value again
        REQUIRE(again == 3);
    }());
    REQUIRE(trace == "parent child "); // starts on the next turn, like create_task
}

TEST_CASE("a spawned task's exception reaches the awaiter") {
    corio::run([]() -> corio::task<void> {
        auto h = corio::spawn(fail_after(1ms));
        REQUIRE_THROWS_WITH(co_await h, "detached failure");
    }());
}

TEST_CASE("cancel makes the current co_await throw; the task may clean up with more awaits") {
    std::vector<std::string> steps;
    corio::run([&]() -> corio::task<void> {
        auto h = corio::spawn([&]() -> corio::task<int> {
            bool cancelled = false;
            try {
                co_await corio::sleep(10s);
            } catch (const corio::cancelled_error&) {
                steps.push_back("cancelled");
                cancelled = true;
            }
            if (cancelled) { // cleanup may await, outside the handler
                co_await corio::sleep(5ms);
                steps.push_back("cleaned up");
                throw corio::cancelled_error();
            }
            co_return 0;
        });
        co_await corio::sleep(1ms);
        REQUIRE(h.cancel());
        REQUIRE_THROWS_AS(co_await h, corio::cancelled_error);
        REQUIRE(h.cancelled());
        REQUIRE_FALSE(h.cancel()); // already finished
    }());
    REQUIRE(steps == std::vector<std::string>{"cancelled", "cleaned up"});
}

TEST_CASE("a task may swallow cancellation and keep going") {
    int v = corio::run([]() -> corio::task<int> {
        auto h = corio::spawn([]() -> corio::task<int> {
            try {
                co_await corio::sleep(10s);
            } catch (const corio::cancelled_error&) {
            }
            co_await corio::sleep(1ms); // later awaits work normally
            co_return 5;
        });
        co_await corio::sleep(1ms);
        h.cancel();
        co_await corio::sleep(20ms);
        co_return h.result();
    }());
    REQUIRE(v == 5);
}

TEST_CASE("a task cancelled before it first runs never runs its body") {
    corio::run([]() -> corio::task<void> {
        bool reached = false;
        auto h = corio::spawn([&]() -> corio::task<void> {
            reached = true;
            co_await corio::sleep(1s);
        });
        REQUIRE(h.cancel());
        REQUIRE(h.cancelling() == 1);
        REQUIRE_THROWS_AS(co_await h, corio::cancelled_error);
        REQUIRE_FALSE(reached);
        REQUIRE(h.cancelled());
        REQUIRE_FALSE(h.cancel()); // finished: nothing to deliver
    }());
}

TEST_CASE("a failed task nobody awaits is reported by the exception handler") {
    std::vector<std::string> reported;
    corio::run([&]() -> corio::task<void> {
        corio::get_running_loop().set_exception_handler([&](std::exception_ptr e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                reported.push_back(ex.what());
            }
        });
        (void)corio::spawn(fail_after(1ms)); // detached
        {
            auto kept = corio::spawn(fail_after(1ms)); // handle dropped later, never awaited
            co_await corio::sleep(10ms);
            REQUIRE(reported.size() == 1);
        }
        REQUIRE(reported.size() == 2);
        auto awaited = corio::spawn(fail_after(1ms));
        try {
            co_await awaited;
        } catch (...) {
        }
        auto cancelled = corio::spawn(after(1s, 0));
        co_await corio::sleep(1ms);
        cancelled.cancel();
        co_await corio::sleep(5ms);
    }());
    // Neither an awaited failure nor a cancellation is reported.
    REQUIRE(reported == std::vector<std::string>{"detached failure", "detached failure"});
}

TEST_CASE("the default handler prints and the loop keeps running") {
    int v = corio::run([]() -> corio::task<int> {
        (void)corio::spawn(fail_after(1ms));
        co_await corio::sleep(10ms);
        co_return 1;
    }());
    REQUIRE(v == 1);
}

TEST_CASE("cancelling a task that awaits another cancels the inner one too") {
    bool inner_cancelled = false;
    corio::run([&]() -> corio::task<void> {
        auto inner = corio::spawn([&]() -> corio::task<void> {
            try {
                co_await corio::sleep(10s);
            } catch (const corio::cancelled_error&) {
                inner_cancelled = true;
                throw;
            }
        });
        auto outer = corio::spawn([&]() -> corio::task<void> { co_await inner; });
        co_await corio::sleep(1ms);
        outer.cancel();
        REQUIRE_THROWS_AS(co_await outer, corio::cancelled_error);
    }());
    REQUIRE(inner_cancelled);
}

TEST_CASE("spawned tasks leave no frames behind") {
    long frames = corio::detail::live_frames.load();
    corio::run([]() -> corio::task<void> {
        std::vector<corio::task_handle<int>> hs;
        for (int i = 0; i < 100; ++i) hs.push_back(corio::spawn(after(std::chrono::milliseconds(i % 5), i)));
        long sum = 0;
        for (auto& h : hs) sum += co_await h;
        REQUIRE(sum == 4950);
    }());
    REQUIRE(corio::detail::live_frames.load() == frames);
}
