// asyncio's cancellation rules, scenario by scenario. asyncio_twin.py runs the same
// scenarios on asyncio and asserts the same outcomes, so both sides are checked.
#define CORIO_COUNT_FRAMES 1
#include <string>
#include <vector>

#include "corio_test.hpp"

using namespace std::chrono_literals;

namespace {

corio::task<bool> ended_cancelled(corio::task_handle<void>& h) {
    try {
        co_await h;
    } catch (const corio::cancelled_error&) {
        co_return true;
    }
    co_return false;
}

} // namespace

TEST_CASE("semantics: a task cancelled before it starts never runs, not even its cleanup") {
    bool reached = false, cleaned = false;
    corio::run([&]() -> corio::task<void> {
        auto body = [&]() -> corio::task<void> {
            reached = true;
            try {
                co_await corio::sleep(1s);
            } catch (...) {
                cleaned = true;
                throw;
            }
        };
        auto t = corio::spawn(body());
        REQUIRE(t.cancel());
        bool cancelled = co_await ended_cancelled(t);
        REQUIRE(cancelled);
        REQUIRE(t.cancelled());
    }());
    REQUIRE_FALSE(reached);
    REQUIRE_FALSE(cleaned);
    REQUIRE(corio::detail::live_frames.load() == 0);
}

TEST_CASE("semantics: two cancels before the task resumes deliver one cancelled_error") {
    corio::run([]() -> corio::task<void> {
        int caught = 0;
        bool went_on = false;
        auto body = [&]() -> corio::task<void> {
            try {
                co_await corio::sleep(10s);
            } catch (const corio::cancelled_error&) {
                ++caught;
            }
            co_await corio::sleep(1ms); // not cancelled a second time
            went_on = true;
        };
        auto t = corio::spawn(body());
        co_await corio::sleep(0s);
        REQUIRE(t.cancel());
        REQUIRE(t.cancel());
        REQUIRE(t.cancelling() == 2);
        bool cancelled = co_await ended_cancelled(t);
        REQUIRE_FALSE(cancelled);
        REQUIRE(caught == 1);
        REQUIRE(went_on);
        REQUIRE_FALSE(t.cancelled());
        REQUIRE(t.uncancel() == 1);
        REQUIRE(t.uncancel() == 0);
        REQUIRE(t.uncancel() == 0); // never below zero
    }());
}

TEST_CASE("semantics: a lock handed to a task cancelled before it resumes goes to the next waiter") {
    corio::run([]() -> corio::task<void> {
        corio::lock l;
        std::vector<std::string> order;
        co_await l.acquire();
        auto waiter = [&](std::string name) -> corio::task<void> {
            auto g = co_await l.scoped();
            order.push_back(name);
        };
        auto b = corio::spawn(waiter("b"));
        auto c = corio::spawn(waiter("c"));
        co_await corio::sleep(0s);
        l.release(); // b is woken, owning the lock
        REQUIRE(b.cancel()); // before b resumes
        bool b_cancelled = co_await ended_cancelled(b);
        co_await c;
        REQUIRE(b_cancelled);
        REQUIRE(b.cancelled());
        REQUIRE(order == std::vector<std::string>{"c"});
        REQUIRE_FALSE(l.locked());
    }());
}

TEST_CASE("semantics: an item handed to a getter cancelled before it resumes goes to the next getter") {
    corio::run([]() -> corio::task<void> {
        corio::queue<std::string> q;
        std::vector<std::string> got;
        auto getter = [&](std::string name) -> corio::task<void> {
            std::string v = co_await q.get();
            got.push_back(name + ":" + v);
        };
        auto g1 = corio::spawn(getter("g1"));
        auto g2 = corio::spawn(getter("g2"));
        co_await corio::sleep(0s);
        q.put_nowait("x"); // g1 is woken with the item
        REQUIRE(g1.cancel());
        bool g1_cancelled = co_await ended_cancelled(g1);
        co_await g2;
        REQUIRE(g1_cancelled);
        REQUIRE(got == std::vector<std::string>{"g2:x"});
        REQUIRE(q.empty());
    }());
}

TEST_CASE("semantics: an item handed to the only getter goes back to the head of the queue") {
    corio::run([]() -> corio::task<void> {
        corio::queue<int> q;
        auto g = corio::spawn([&]() -> corio::task<int> { co_return co_await q.get(); });
        co_await corio::sleep(0s);
        q.put_nowait(1); // handed to g
        q.put_nowait(2);
        REQUIRE(g.cancel());
        REQUIRE_THROWS_AS(co_await g, corio::cancelled_error);
        REQUIRE(q.qsize() == 2);
        REQUIRE(q.get_nowait() == 1);
        REQUIRE(q.get_nowait() == 2);
    }());
}

TEST_CASE("semantics: a permit handed to a task cancelled before it resumes is given back") {
    corio::run([]() -> corio::task<void> {
        corio::semaphore s(1);
        co_await s.acquire();
        auto w = corio::spawn([&]() -> corio::task<void> { co_await s.acquire(); });
        co_await corio::sleep(0s);
        s.release(); // w is woken with the permit
        REQUIRE(w.cancel());
        bool cancelled = co_await ended_cancelled(w);
        REQUIRE(cancelled);
        REQUIRE(s.value() == 1);
    }());
}

TEST_CASE("semantics: an event wait cancelled after the event was set still throws") {
    corio::run([]() -> corio::task<void> {
        corio::event ev;
        auto w = corio::spawn([&]() -> corio::task<void> { co_await ev.wait(); });
        co_await corio::sleep(0s);
        ev.set();
        REQUIRE(w.cancel());
        bool cancelled = co_await ended_cancelled(w);
        REQUIRE(cancelled);
        REQUIRE(w.cancelled());
    }());
}

TEST_CASE("semantics: a task cancelled while running that returns without waiting ends cancelled") {
    corio::run([]() -> corio::task<void> {
        corio::task_handle<int>* self = nullptr;
        auto body = [&]() -> corio::task<int> {
            REQUIRE(self->cancel());
            co_return 5;
        };
        auto t = corio::spawn(body());
        self = &t;
        REQUIRE_THROWS_AS(co_await t, corio::cancelled_error);
        REQUIRE(t.cancelled());
    }());
}

TEST_CASE("semantics: cancel() is false once the task has finished, and delivers nothing") {
    corio::run([]() -> corio::task<void> {
        auto t = corio::spawn([]() -> corio::task<int> { co_return 3; }());
        REQUIRE(co_await t == 3);
        REQUIRE_FALSE(t.cancel());
        REQUIRE(t.cancelling() == 0);
        co_await corio::sleep(1ms); // the caller is not cancelled either
    }());
}

// asyncio's timer heap does not promise this; corio does (docs/asyncio-differences.md).
TEST_CASE("semantics: timers with equal deadlines fire in the order they were scheduled") {
    corio::run([]() -> corio::task<void> {
        auto deadline = std::chrono::steady_clock::now() + 20ms;
        std::vector<int> order;
        std::vector<corio::task<void>> sleepers;
        for (int i = 0; i < 50; ++i)
            sleepers.push_back([](auto at, std::vector<int>& out, int id) -> corio::task<void> {
                co_await corio::sleep_until(at);
                out.push_back(id);
            }(deadline, order, i));
        co_await corio::gather(std::move(sleepers));
        std::vector<int> expected;
        for (int i = 0; i < 50; ++i) expected.push_back(i);
        REQUIRE(order == expected);
    }());
}

TEST_CASE("semantics: equal deadlines keep their order when some were scheduled earlier ones first") {
    corio::run([]() -> corio::task<void> {
        auto base = std::chrono::steady_clock::now() + 30ms;
        std::vector<int> order;
        std::vector<corio::task<void>> sleepers;
        // A later deadline first, then equal ones: these go through the heap, not the FIFO.
        for (int i = 0; i < 40; ++i) {
            auto at = i == 0 ? base + 10ms : base;
            sleepers.push_back([](auto when, std::vector<int>& out, int id) -> corio::task<void> {
                co_await corio::sleep_until(when);
                out.push_back(id);
            }(at, order, i));
        }
        co_await corio::gather(std::move(sleepers));
        std::vector<int> expected;
        for (int i = 1; i < 40; ++i) expected.push_back(i);
        expected.push_back(0);
        REQUIRE(order == expected);
    }());
}
