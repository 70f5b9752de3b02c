// condition, barrier, bounded_semaphore, lifo_queue, priority_queue and queue::shutdown:
// asyncio's semantics, including what a cancellation at each point leaves behind.
#define CORIO_COUNT_FRAMES 1
#include <algorithm>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "corio_test.hpp"

using namespace std::chrono_literals;
using corio::task;

namespace {

task<bool> ended_cancelled(corio::task_handle<void>& h) {
    try {
        co_await h;
    } catch (const corio::cancelled_error&) {
        co_return true;
    }
    co_return false;
}

task<void> turns(int n) {
    for (int i = 0; i < n; ++i) co_await corio::sleep(0s);
}

} // namespace

// ---- condition ----

TEST_CASE("condition: wait and notify without the lock throw logic_error") {
    corio::run([]() -> task<void> {
        corio::condition cond;
        REQUIRE_THROWS_AS(cond.notify(), std::logic_error);
        REQUIRE_THROWS_AS(cond.notify_all(), std::logic_error);
        auto pending1 = cond.wait();
        REQUIRE_THROWS_AS(co_await pending1, std::logic_error);
        REQUIRE_FALSE(cond.locked());
    }());
}

TEST_CASE("condition: a waiter cancelled after its notify passes it to the next waiter") {
    corio::run([]() -> task<void> {
        corio::condition cond;
        std::vector<int> woke;
        auto waiter = [&](int id) -> task<void> {
            auto g = co_await cond.scoped();
            co_await cond.wait();
            woke.push_back(id);
        };
        auto a = corio::spawn(waiter, 1);
        auto b = corio::spawn(waiter, 2);
        co_await turns(2);
        co_await cond.acquire();
        cond.notify(1); // a is woken
        cond.release();
        REQUIRE(a.cancel()); // before a resumes
        bool a_cancelled = co_await ended_cancelled(a);
        co_await b; // b got the notification a could not use
        REQUIRE(a_cancelled);
        REQUIRE(woke == std::vector<int>{2});
        REQUIRE_FALSE(cond.locked());
    }());
}

TEST_CASE("condition: sharing a lock with the caller") {
    corio::run([]() -> task<void> {
        corio::lock l;
        corio::condition cond(l);
        bool ready = false;
        auto h = corio::spawn([&]() -> task<void> {
            co_await l.acquire();
            auto is_ready = [&] { return ready; }; // named: GCC 12 and lambda temporaries in co_await
            co_await cond.wait_for(is_ready);
            REQUIRE(l.locked());
            l.release();
        });
        co_await turns(2);
        REQUIRE_FALSE(l.locked()); // released while it waits
        auto g = co_await l.scoped();
        ready = true;
        cond.notify_all();
        g.unlock();
        co_await h;
        REQUIRE(&cond.get_lock() == &l);
    }());
}

// ---- barrier ----

TEST_CASE("barrier: releases all parties at once with distinct indices, round after round") {
    corio::run([]() -> task<void> {
        corio::barrier b(3);
        REQUIRE(b.parties() == 3);
        for (int round = 0; round < 2; ++round) {
            std::vector<std::size_t> got;
            auto party = [&]() -> task<void> { got.push_back(co_await b.wait()); };
            auto x = corio::spawn(party);
            auto y = corio::spawn(party);
            co_await turns(2);
            REQUIRE(b.n_waiting() == 2);
            REQUIRE(got.empty());
            std::size_t mine = co_await b.wait(); // the last to arrive releases the round
            co_await x;
            co_await y;
            got.push_back(mine);
            std::sort(got.begin(), got.end());
            REQUIRE(got == std::vector<std::size_t>{0, 1, 2});
            REQUIRE(mine == 2);
            REQUIRE(b.n_waiting() == 0);
        }
        REQUIRE_THROWS_AS(corio::barrier(0), std::invalid_argument);
        corio::barrier one(1);
        auto got2 = co_await one.wait();
        REQUIRE(got2 == 0);
    }());
    REQUIRE(corio::detail::live_frames.load() == 0);
}

TEST_CASE("barrier: a waiter cancelled after the release, before it resumes, leaves the round cleanly") {
    corio::run([]() -> task<void> {
        corio::barrier b(2);
        auto w = corio::spawn([&]() -> task<void> { (void)co_await b.wait(); });
        co_await turns(2);
        auto releaser = co_await b.wait(); // releases w
        REQUIRE(releaser == 1);
        REQUIRE(w.cancel()); // before w resumes
        bool cancelled = co_await ended_cancelled(w);
        REQUIRE(cancelled);
        REQUIRE(b.n_waiting() == 0);
        auto x = corio::spawn([&]() -> task<std::size_t> { co_return co_await b.wait(); });
        co_await turns(1);
        REQUIRE(b.n_waiting() == 1); // the round drained: filling again
        auto got11 = co_await b.wait();
        REQUIRE(got11 == 1);
        auto got12 = co_await x;
        REQUIRE(got12 == 0);
    }());
}

// ---- bounded_semaphore ----

TEST_CASE("bounded_semaphore: a release past the initial value throws and changes nothing") {
    corio::run([]() -> task<void> {
        corio::bounded_semaphore s(2);
        REQUIRE_THROWS_AS(s.release(), std::logic_error);
        REQUIRE(s.value() == 2);
        co_await s.acquire();
        s.release();
        REQUIRE_THROWS_AS(s.release(), std::logic_error);
        corio::semaphore& plain = s; // the bound holds through the base class
        REQUIRE_THROWS_AS(plain.release(), std::logic_error);
        REQUIRE(s.value() == 2);
    }());
}

// As asyncio 3.11: the permit leaves value() when it is handed to the waiter, so a
// release too many made before that waiter runs is caught at the waiter's own release.
TEST_CASE("bounded_semaphore: a waiter cancelled after the hand-off gives the permit back") {
    corio::run([]() -> task<void> {
        corio::bounded_semaphore s(1);
        co_await s.acquire();
        auto w = corio::spawn([&]() -> task<void> { co_await s.acquire(); });
        co_await turns(1);
        s.release();
        REQUIRE(w.cancel());
        bool cancelled = co_await ended_cancelled(w);
        REQUIRE(cancelled);
        REQUIRE(s.value() == 1);
        REQUIRE_THROWS_AS(s.release(), std::logic_error);
    }());
}

// ---- lifo_queue, priority_queue ----

TEST_CASE("priority_queue: smallest first, by any comparison, also for move-only items") {
    corio::run([]() -> task<void> {
        corio::priority_queue<int> q;
        for (int v : {5, 1, 4, 2, 3}) co_await q.put(v);
        std::vector<int> got;
        while (!q.empty()) got.push_back(co_await q.get());
        REQUIRE(got == std::vector<int>{1, 2, 3, 4, 5});

        corio::priority_queue<int, std::greater<int>> big_first;
        for (int v : {2, 9, 4}) big_first.put_nowait(v);
        REQUIRE(big_first.get_nowait() == 9);

        using job = std::pair<int, std::unique_ptr<std::string>>;
        auto by_priority = [](const job& a, const job& b) { return a.first < b.first; };
        corio::priority_queue<job, decltype(by_priority)> jobs(0, by_priority);
        jobs.put_nowait(job(2, std::make_unique<std::string>("later")));
        jobs.put_nowait(job(1, std::make_unique<std::string>("first")));
        job j = co_await jobs.get();
        REQUIRE(*j.second == "first");
    }());
}

TEST_CASE("priority_queue: bounded, putters wait; a given-back item keeps its priority") {
    corio::run([]() -> task<void> {
        corio::priority_queue<int> q(2);
        q.put_nowait(7);
        q.put_nowait(3);
        REQUIRE(q.full());
        auto p = corio::spawn([&]() -> task<void> { co_await q.put(1); });
        co_await turns(1);
        REQUIRE_FALSE(p.done());
        REQUIRE(q.get_nowait() == 3); // room: the putter's place is reserved
        REQUIRE(q.full());
        REQUIRE_THROWS_AS(q.put_nowait(0), corio::queue_full);
        co_await p;
        REQUIRE(q.get_nowait() == 1);
        REQUIRE(q.get_nowait() == 7);

        auto g = corio::spawn([&]() -> task<int> { co_return co_await q.get(); });
        co_await turns(1);
        q.put_nowait(5); // handed to g
        q.put_nowait(6);
        REQUIRE(g.cancel());
        REQUIRE_THROWS_AS(co_await g, corio::cancelled_error);
        REQUIRE(q.get_nowait() == 5);
        REQUIRE(q.get_nowait() == 6);
    }());
}

// ---- queue::shutdown ----

TEST_CASE("queue shutdown: puts fail at once, getters drain what is left, then get fails") {
    corio::run([]() -> task<void> {
        corio::queue<int> q;
        q.put_nowait(1);
        q.put_nowait(2);
        q.shutdown();
        REQUIRE(q.is_shutdown());
        REQUIRE_THROWS_AS(q.put_nowait(3), corio::queue_shut_down);
        REQUIRE_THROWS_AS(co_await q.put(3), corio::queue_shut_down);
        auto got14 = co_await q.get();
        REQUIRE(got14 == 1);
        REQUIRE(q.get_nowait() == 2);
        REQUIRE_THROWS_AS(q.get_nowait(), corio::queue_shut_down);
        REQUIRE_THROWS_AS(co_await q.get(), corio::queue_shut_down);
        q.task_done();
        q.task_done();
        co_await q.join();
    }());
}

TEST_CASE("queue shutdown: waiting getters and putters wake with queue_shut_down") {
    corio::run([]() -> task<void> {
        corio::queue<int> empty_q;
        auto getter = [&]() -> task<void> { (void)co_await empty_q.get(); };
        auto g1 = corio::spawn(getter);
        auto g2 = corio::spawn(getter);
        corio::queue<int> full_q(1);
        full_q.put_nowait(1);
        auto p = corio::spawn([&]() -> task<void> { co_await full_q.put(2); });
        co_await turns(2);
        empty_q.shutdown();
        full_q.shutdown();
        REQUIRE_THROWS_AS(co_await g1, corio::queue_shut_down);
        REQUIRE_THROWS_AS(co_await g2, corio::queue_shut_down);
        REQUIRE_THROWS_AS(co_await p, corio::queue_shut_down);
        REQUIRE(full_q.qsize() == 1); // the waiting put did not happen
        REQUIRE(full_q.get_nowait() == 1);
    }());
}

TEST_CASE("queue shutdown: a putter woken with a place, resumed after the shutdown, puts nothing") {
    corio::run([]() -> task<void> {
        corio::queue<int> q(1);
        q.put_nowait(1);
        auto p = corio::spawn([&]() -> task<void> { co_await q.put(2); });
        co_await turns(1);
        REQUIRE(q.get_nowait() == 1); // p is woken holding the place
        q.shutdown();
        REQUIRE_THROWS_AS(co_await p, corio::queue_shut_down);
        REQUIRE(q.empty());
        REQUIRE_FALSE(q.full()); // no place left reserved
    }());
}

TEST_CASE("queue shutdown(immediate): an item given back by a late-cancelled getter is dropped") {
    corio::run([]() -> task<void> {
        corio::queue<int> q;
        auto g = corio::spawn([&]() -> task<int> { co_return co_await q.get(); });
        co_await turns(1);
        q.put_nowait(1); // handed to g
        q.shutdown(true);
        REQUIRE(g.cancel());
        REQUIRE_THROWS_AS(co_await g, corio::cancelled_error);
        REQUIRE(q.empty());
        co_await q.join(); // the dropped item counted as done
    }());
}

TEST_CASE("queue shutdown: an item already handed to a woken getter stays that getter's") {
    corio::run([]() -> task<void> {
        corio::queue<int> q;
        auto g = corio::spawn([&]() -> task<int> { co_return co_await q.get(); });
        co_await turns(1);
        q.put_nowait(1);
        q.shutdown(true);
        auto got15 = co_await g;
        REQUIRE(got15 == 1);
    }());
}

TEST_CASE("lifo_queue and priority_queue shut down as queue does") {
    corio::run([]() -> task<void> {
        corio::lifo_queue<int> l;
        corio::priority_queue<int> p;
        auto lg = corio::spawn([&]() -> task<int> { co_return co_await l.get(); });
        l.put_nowait(1);
        p.put_nowait(2);
        p.put_nowait(1);
        co_await turns(1);
        l.shutdown();
        p.shutdown();
        auto got16 = co_await lg;
        REQUIRE(got16 == 1);
        REQUIRE_THROWS_AS(l.put_nowait(3), corio::queue_shut_down);
        REQUIRE(p.get_nowait() == 1);
        REQUIRE(p.get_nowait() == 2);
        REQUIRE_THROWS_AS(p.get_nowait(), corio::queue_shut_down);
    }());
}
