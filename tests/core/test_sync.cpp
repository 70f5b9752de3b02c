#include "corio_test.hpp"

#include <string>
#include <vector>

using namespace std::chrono_literals;

TEST_CASE("event wakes every waiter; wait on a set event returns at once") {
    corio::run([]() -> corio::task<void> {
        corio::event ev;
        int woke = 0;
        auto waiter = [&]() -> corio::task<void> {
            co_await ev.wait();
            ++woke;
        };
        auto a = corio::spawn(waiter());
        auto b = corio::spawn(waiter());
        co_await corio::sleep(1ms);
        REQUIRE(woke == 0);
        ev.set();
        co_await a;
        co_await b;
        REQUIRE(woke == 2);
        co_await ev.wait(); // already set
        ev.clear();
        REQUIRE_FALSE(ev.is_set());
    }());
}

TEST_CASE("lock gives mutual exclusion in FIFO order") {
    std::string trace;
    corio::run([&]() -> corio::task<void> {
        corio::lock l;
        auto worker = [&](char c) -> corio::task<void> {
            auto g = co_await l.scoped();
            trace += c;
            co_await corio::sleep(2ms);
            trace += c;
        };
        co_await corio::gather(worker('a'), worker('b'), worker('c'));
        REQUIRE_FALSE(l.locked());
    }());
    REQUIRE(trace == "aabbcc");
}

TEST_CASE("a cancelled lock waiter leaves the lock consistent") {
    corio::run([]() -> corio::task<void> {
        corio::lock l;
        co_await l.acquire();
        auto waiter = corio::spawn([&]() -> corio::task<void> {
            co_await l.acquire();
            l.release();
        });
        auto second = corio::spawn([&]() -> corio::task<int> {
            auto g = co_await l.scoped();
            co_return 1;
        });
        co_await corio::sleep(1ms);
        waiter.cancel();
        REQUIRE_THROWS_AS(co_await waiter, corio::cancelled_error);
        l.release(); // hands over to `second`, skipping the cancelled waiter
        int got = co_await second;
        REQUIRE(got == 1);
        REQUIRE_FALSE(l.locked());
        REQUIRE_THROWS_AS(l.release(), std::logic_error);
    }());
}

TEST_CASE("semaphore bounds concurrency") {
    corio::run([]() -> corio::task<void> {
        corio::semaphore sem(2);
        int inside = 0, peak = 0;
        auto worker = [&]() -> corio::task<void> {
            co_await sem.acquire();
            ++inside;
            peak = std::max(peak, inside);
            co_await corio::sleep(2ms);
            --inside;
            sem.release();
        };
        std::vector<corio::task<void>> ws;
        for (int i = 0; i < 8; ++i) ws.push_back(worker());
        co_await corio::gather(std::move(ws));
        REQUIRE(peak == 2);
        REQUIRE(sem.value() == 2);
    }());
}

TEST_CASE("a cancelled semaphore waiter does not take a permit") {
    corio::run([]() -> corio::task<void> {
        corio::semaphore sem(0);
        auto w = corio::spawn([&]() -> corio::task<void> { co_await sem.acquire(); });
        co_await corio::sleep(1ms);
        w.cancel();
        REQUIRE_THROWS_AS(co_await w, corio::cancelled_error);
        sem.release();
        REQUIRE(sem.value() == 1);
    }());
}

TEST_CASE("queue: FIFO, get waits while empty, put waits while full") {
    corio::run([]() -> corio::task<void> {
        corio::queue<std::string> q(2);
        std::vector<std::string> got;
        auto consumer = corio::spawn([&]() -> corio::task<void> {
            for (int i = 0; i < 5; ++i) {
                got.push_back(co_await q.get());
                co_await corio::sleep(1ms);
            }
        });
        for (int i = 0; i < 5; ++i) {
            co_await q.put("item" + std::to_string(i));
            REQUIRE(q.qsize() <= 2);
        }
        co_await consumer;
        REQUIRE(got == std::vector<std::string>{"item0", "item1", "item2", "item3", "item4"});
        REQUIRE(q.empty());
        REQUIRE_THROWS_AS(q.get_nowait(), corio::queue_empty);
        q.put_nowait("a");
        q.put_nowait("b");
        REQUIRE(q.full());
        REQUIRE_THROWS_AS(q.put_nowait("c"), corio::queue_full);
    }());
}

TEST_CASE("queue: waiting getters are served in FIFO order") {
    corio::run([]() -> corio::task<void> {
        corio::queue<int> q; // unbounded
        std::vector<int> order;
        auto getter = [&](int id) -> corio::task<void> {
            int v = co_await q.get();
            order.push_back(id * 100 + v);
        };
        auto a = corio::spawn(getter(1));
        auto b = corio::spawn(getter(2));
        co_await corio::sleep(1ms);
        q.put_nowait(1);
        q.put_nowait(2);
        co_await a;
        co_await b;
        REQUIRE(order == std::vector<int>{101, 202});
    }());
}

TEST_CASE("queue: cancelled put and get lose nothing") {
    corio::run([]() -> corio::task<void> {
        corio::queue<int> q(1);
        q.put_nowait(1);
        auto p = corio::spawn([&]() -> corio::task<void> { co_await q.put(2); });
        co_await corio::sleep(1ms);
        p.cancel();
        REQUIRE_THROWS_AS(co_await p, corio::cancelled_error);
        REQUIRE(q.get_nowait() == 1);
        REQUIRE(q.empty()); // the cancelled put did not sneak in

        auto g = corio::spawn([&]() -> corio::task<int> { co_return co_await q.get(); });
        co_await corio::sleep(1ms);
        g.cancel();
        REQUIRE_THROWS_AS(co_await g, corio::cancelled_error);
        q.put_nowait(3);
        REQUIRE(q.get_nowait() == 3); // not swallowed by the cancelled getter
    }());
}

TEST_CASE("queue join waits for task_done of every item") {
    corio::run([]() -> corio::task<void> {
        corio::queue<int> q;
        int processed = 0;
        for (int i = 0; i < 3; ++i) q.put_nowait(i);
        auto worker = corio::spawn([&]() -> corio::task<void> {
            for (;;) {
                (void)co_await q.get();
                co_await corio::sleep(1ms);
                ++processed;
                q.task_done();
            }
        });
        co_await q.join();
        REQUIRE(processed == 3);
        worker.cancel();
    }());
}
