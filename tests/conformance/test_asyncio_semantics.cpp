// asyncio's cancellation rules, scenario by scenario. asyncio_twin.py runs the same
// scenarios on asyncio and asserts the same outcomes, so both sides are checked.
#define CORIO_COUNT_FRAMES 1
#include <stdexcept>
#include <string>
#include <vector>

#include "corio_test.hpp"

using namespace std::chrono_literals;

namespace {

corio::task<void> turns(int n) {
    for (int i = 0; i < n; ++i) co_await corio::sleep(0s);
}

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

// Structured concurrency: task_group, timeout, shield and as_completed, as asyncio_twin.py.
namespace {

std::vector<std::string> messages_of(const corio::exception_group& g) {
    std::vector<std::string> out;
    for (const auto& e : g) {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            out.push_back(x.what());
        }
    }
    return out;
}

} // namespace

TEST_CASE("semantics: a failing child cancels the body and its siblings; every error comes out") {
    corio::run([]() -> corio::task<void> {
        bool body_cancelled = false, sibling_cancelled = false, refused = false;
        std::vector<std::string> errors;
        auto body = [&](corio::task_group& g) -> corio::task<void> {
            (void)g.spawn([]() -> corio::task<void> {
                co_await corio::sleep(1ms);
                throw std::runtime_error("first");
            });
            (void)g.spawn([&]() -> corio::task<void> {
                try {
                    co_await corio::sleep(1h);
                } catch (const corio::cancelled_error&) {
                    sibling_cancelled = true;
                    throw std::runtime_error("second, while unwinding");
                }
            });
            (void)g.spawn([]() -> corio::task<void> { co_await corio::sleep(1h); }); // quietly
            try {
                co_await corio::sleep(1h);
            } catch (const corio::cancelled_error&) {
                body_cancelled = true;
                try {
                    (void)g.spawn([]() -> corio::task<void> { co_return; });
                } catch (const std::logic_error&) {
                    refused = true;
                }
                throw;
            }
        };
        try {
            co_await corio::task_group::run(body);
            FAIL("no exception_group");
        } catch (const corio::exception_group& e) {
            errors = messages_of(e);
        }
        REQUIRE(errors == std::vector<std::string>{"first", "second, while unwinding"});
        REQUIRE(body_cancelled);
        REQUIRE(sibling_cancelled);
        REQUIRE(refused);
        co_await corio::sleep(1ms); // the awaiting task is not cancelled
    }());
}

TEST_CASE("semantics: the body's own error comes after the children's") {
    corio::run([]() -> corio::task<void> {
        auto body = [](corio::task_group& g) -> corio::task<void> {
            (void)g.spawn([]() -> corio::task<void> {
                co_await corio::sleep(1ms);
                throw std::runtime_error("child");
            });
            bool cancelled = false;
            try {
                co_await corio::sleep(1h);
            } catch (const corio::cancelled_error&) {
                cancelled = true;
            }
            if (cancelled) throw std::invalid_argument("body");
        };
        std::vector<std::string> errors;
        try {
            co_await corio::task_group::run(body);
        } catch (const corio::exception_group& e) {
            errors = messages_of(e);
        }
        REQUIRE(errors == std::vector<std::string>{"child", "body"});
    }());
}

TEST_CASE("semantics: cancelling the task awaiting a group waits for every child, then cancels") {
    corio::run([]() -> corio::task<void> {
        int unwound = 0;
        bool returned = false;
        auto child = [&]() -> corio::task<void> {
            try {
                co_await corio::sleep(1h);
            } catch (const corio::cancelled_error&) {
            }
            co_await corio::sleep(1ms); // unwinding takes a while
            ++unwound;
            throw corio::cancelled_error();
        };
        auto body = [&](corio::task_group& g) -> corio::task<void> {
            for (int i = 0; i < 3; ++i) (void)g.spawn(child);
            co_await corio::sleep(1h);
        };
        auto outer = [&]() -> corio::task<void> {
            co_await corio::task_group::run(body);
            returned = true;
        };
        auto t = corio::spawn(outer);
        co_await corio::sleep(1ms);
        REQUIRE(t.cancel());
        bool cancelled = co_await ended_cancelled(t);
        REQUIRE(cancelled);
        REQUIRE(unwound == 3);
        REQUIRE_FALSE(returned);
        REQUIRE(t.cancelling() == 1);
    }());
}

TEST_CASE("semantics: a timeout cancels the work, then timeout_error; swallowed, no error") {
    corio::run([]() -> corio::task<void> {
        bool unwound = false;
        auto body = [&](corio::timeout_scope& s) -> corio::task<void> {
            try {
                co_await corio::sleep(1h);
            } catch (const corio::cancelled_error&) {
                unwound = s.expired();
                throw;
            }
        };
        REQUIRE_THROWS_AS(co_await corio::timeout(1ms, body), corio::timeout_error);
        REQUIRE(unwound);
        bool expired = false;
        auto swallow = [&](corio::timeout_scope& s) -> corio::task<void> {
            try {
                co_await corio::sleep(1h);
            } catch (const corio::cancelled_error&) {
            }
            expired = s.expired();
        };
        co_await corio::timeout(1ms, swallow);
        REQUIRE(expired);
    }());
}

TEST_CASE("semantics: nested timeouts, the inner expiring and the outer expiring") {
    corio::run([]() -> corio::task<void> {
        bool inner_timed_out = false, outer_expired = true;
        auto inner_first = [&](corio::timeout_scope& outer) -> corio::task<void> {
            try {
                co_await corio::timeout(1ms, corio::sleep(1h));
            } catch (const corio::timeout_error&) {
                inner_timed_out = true;
            }
            outer_expired = outer.expired();
        };
        co_await corio::timeout(1h, inner_first);
        REQUIRE(inner_timed_out);
        REQUIRE_FALSE(outer_expired);

        bool inner_saw_cancel = false, inner_expired = true;
        auto inner = [&](corio::timeout_scope& s) -> corio::task<void> {
            try {
                co_await corio::sleep(1h);
            } catch (const corio::cancelled_error&) {
                inner_expired = s.expired();
                throw;
            }
        };
        auto outer_first = [&](corio::timeout_scope&) -> corio::task<void> {
            try {
                co_await corio::timeout(1h, inner);
            } catch (const corio::cancelled_error&) {
                inner_saw_cancel = true;
                throw;
            }
        };
        REQUIRE_THROWS_AS(co_await corio::timeout(1ms, outer_first), corio::timeout_error);
        REQUIRE(inner_saw_cancel);
        REQUIRE_FALSE(inner_expired);
    }());
}

TEST_CASE("semantics: a cancellation from outside passes a timeout that expired with it") {
    corio::run([]() -> corio::task<void> {
        auto deadline = std::chrono::steady_clock::now() + 20ms;
        bool expired = false;
        auto body = [&](corio::timeout_scope& s) -> corio::task<void> {
            try {
                co_await corio::sleep(1h);
            } catch (const corio::cancelled_error&) {
                expired = s.expired();
                throw;
            }
        };
        auto victim = [&]() -> corio::task<void> { co_await corio::timeout_at(deadline, body); };
        auto t = corio::spawn(victim);
        // Due a nanosecond before the deadline: one pass over the due timers fires both.
        auto canceller = corio::spawn([&]() -> corio::task<void> {
            co_await corio::sleep_until(deadline - 1ns);
            REQUIRE(t.cancel());
        });
        bool cancelled = co_await ended_cancelled(t);
        co_await canceller;
        REQUIRE(cancelled);
        REQUIRE(expired);
    }());
}

TEST_CASE("semantics: reschedule moves a deadline; an expired scope refuses it") {
    corio::run([]() -> corio::task<void> {
        bool expired = true;
        auto later = [&](corio::timeout_scope& s) -> corio::task<void> {
            s.reschedule(std::chrono::steady_clock::now() + 1h);
            co_await corio::sleep(20ms);
            expired = s.expired();
        };
        co_await corio::timeout(1ms, later);
        REQUIRE_FALSE(expired);
        bool refused = false;
        auto sooner = [&](corio::timeout_scope& s) -> corio::task<void> {
            co_await corio::sleep(0s);
            s.reschedule(std::chrono::steady_clock::now() - 1ms);
            try {
                co_await corio::sleep(1h);
            } catch (const corio::cancelled_error&) {
                try {
                    s.reschedule(std::chrono::steady_clock::now() + 1h);
                } catch (const std::logic_error&) {
                    refused = true;
                }
                throw;
            }
        };
        REQUIRE_THROWS_AS(co_await corio::timeout(1h, sooner), corio::timeout_error);
        REQUIRE(refused);
    }());
}

TEST_CASE("semantics: a shielded operation outlives its cancelled awaiter") {
    corio::run([]() -> corio::task<void> {
        corio::event go;
        bool finished = false;
        auto work = [&]() -> corio::task<int> {
            co_await go.wait();
            finished = true;
            co_return 1;
        };
        auto awaiter = [&]() -> corio::task<void> { (void)co_await corio::shield(work); };
        auto t = corio::spawn(awaiter);
        co_await corio::sleep(1ms);
        REQUIRE(t.cancel());
        bool cancelled = co_await ended_cancelled(t);
        REQUIRE(cancelled);
        REQUIRE_FALSE(finished);
        go.set();
        co_await corio::sleep(1ms);
        REQUIRE(finished);
    }());
}

TEST_CASE("semantics: as_completed hands results out in finishing order") {
    corio::run([]() -> corio::task<void> {
        auto after = [](int ms) -> corio::task<int> {
            co_await corio::sleep(std::chrono::milliseconds(ms));
            if (ms == 20) throw std::runtime_error("twenty");
            co_return ms;
        };
        std::vector<corio::task<int>> tasks;
        for (int ms : {30, 1, 20, 10}) tasks.push_back(after(ms));
        auto ac = corio::as_completed(std::move(tasks));
        std::vector<int> got;
        while (auto next = ac.next()) {
            try {
                got.push_back(co_await *next);
            } catch (const std::runtime_error&) {
                got.push_back(-1);
            }
        }
        REQUIRE(got == std::vector<int>{1, 10, -1, 30});
    }());
}

// ---- condition, barrier, bounded_semaphore, lifo and priority queues, queue shutdown ----
// asyncio_twin.py: condition_*, barrier_*, bounded_semaphore_release_too_many,
// priority_and_lifo_order, lifo_item_of_cancelled_getter, queue_shutdown (3.13).

using corio::task;

TEST_CASE("semantics: condition: wait_for returns once the predicate holds, with the lock held") {
    corio::run([]() -> task<void> {
        corio::condition cond;
        int items = 0;
        auto consumer = corio::spawn([&]() -> task<int> {
            auto g = co_await cond.scoped();
            auto available = [&] { return items; }; // named: GCC 12 and lambda temporaries in co_await
            int seen = co_await cond.wait_for(available);
            REQUIRE(cond.locked()); // wait_for returned holding the lock
            --items;
            co_return seen;
        });
        co_await turns(2);
        {
            auto g = co_await cond.scoped();
            REQUIRE_FALSE(consumer.done());
            items = 2;
            cond.notify();
            co_await turns(2);
            REQUIRE_FALSE(consumer.done()); // woken, but the lock is still ours
        }
        auto got1 = co_await consumer;
        REQUIRE(got1 == 2);
        REQUIRE(items == 1);
        REQUIRE_FALSE(cond.locked());
    }());
    REQUIRE(corio::detail::live_frames.load() == 0);
}

TEST_CASE("semantics: condition: notify(n) wakes n waiters in FIFO order, notify_all the rest") {
    corio::run([]() -> task<void> {
        corio::condition cond;
        std::vector<int> order;
        auto waiter = [&](int id) -> task<void> {
            auto g = co_await cond.scoped();
            co_await cond.wait();
            order.push_back(id);
        };
        std::vector<corio::task_handle<void>> hs;
        for (int i = 0; i < 5; ++i) hs.push_back(corio::spawn(waiter, i));
        co_await turns(2);
        co_await cond.acquire();
        cond.notify(2);
        cond.release();
        co_await turns(3);
        REQUIRE(order == std::vector<int>{0, 1});
        co_await cond.acquire();
        cond.notify_all();
        cond.release();
        for (auto& h : hs) co_await h;
        REQUIRE(order == std::vector<int>{0, 1, 2, 3, 4});
        co_await cond.acquire();
        cond.notify(); // nobody waits: nothing happens
        cond.release();
    }());
}

TEST_CASE("semantics: condition: a cancelled wait takes the lock back before it throws") {
    corio::run([]() -> task<void> {
        corio::condition cond;
        bool held_when_cancelled = false;
        auto h = corio::spawn([&]() -> task<void> {
            auto g = co_await cond.scoped();
            try {
                co_await cond.wait();
            } catch (const corio::cancelled_error&) {
                held_when_cancelled = cond.locked();
                throw;
            }
        });
        co_await turns(2);
        co_await cond.acquire(); // the waiter must wait for this to be released
        REQUIRE(h.cancel());
        co_await turns(3);
        REQUIRE_FALSE(h.done());
        REQUIRE(h.cancel()); // cancelled again while it waits for the lock: swallowed
        co_await turns(3);
        REQUIRE_FALSE(h.done());
        cond.release();
        bool cancelled = co_await ended_cancelled(h);
        REQUIRE(cancelled);
        REQUIRE(held_when_cancelled);
        REQUIRE_FALSE(cond.locked()); // the waiter's guard released it
    }());
}

TEST_CASE("semantics: barrier: a task arriving while a round drains waits for the next round") {
    corio::run([]() -> task<void> {
        corio::barrier b(2);
        std::vector<std::string> trace;
        auto party = [&](std::string name) -> task<std::size_t> {
            std::size_t i = co_await b.wait();
            trace.push_back(name);
            co_return i;
        };
        auto a = corio::spawn(party, std::string("a"));
        co_await turns(1);
        auto bb = corio::spawn(party, std::string("b")); // releases the round
        auto c = corio::spawn(party, std::string("c")); // runs before a resumes: draining
        co_await turns(3);
        REQUIRE(a.done());
        REQUIRE(bb.done());
        REQUIRE_FALSE(c.done());
        REQUIRE(b.n_waiting() == 1); // c is the first of the next round
        std::size_t mine = co_await b.wait();
        REQUIRE(mine == 1);
        auto got3 = co_await c;
        REQUIRE(got3 == 0);
        REQUIRE(trace == std::vector<std::string>{"b", "a", "c"});
    }());
}

TEST_CASE("semantics: barrier: abort breaks waiting and later waits until reset") {
    corio::run([]() -> task<void> {
        corio::barrier b(3);
        auto w = corio::spawn([&]() -> task<std::size_t> { co_return co_await b.wait(); });
        co_await turns(2);
        b.abort();
        REQUIRE(b.broken());
        REQUIRE_THROWS_AS(co_await w, corio::broken_barrier_error);
        auto pending2 = b.wait();
        REQUIRE_THROWS_AS(co_await pending2, corio::broken_barrier_error);
        REQUIRE(b.n_waiting() == 0);
        b.reset();
        REQUIRE_FALSE(b.broken());
        corio::barrier two(2);
        auto x = corio::spawn([&]() -> task<std::size_t> { co_return co_await two.wait(); });
        co_await turns(1);
        auto got4 = co_await two.wait();
        REQUIRE(got4 == 1);
        auto got5 = co_await x;
        REQUIRE(got5 == 0);
    }());
}

TEST_CASE("semantics: barrier: reset while tasks wait breaks their wait, and the next round starts clean") {
    corio::run([]() -> task<void> {
        corio::barrier b(3);
        auto party = [&]() -> task<std::size_t> { co_return co_await b.wait(); };
        auto x = corio::spawn(party);
        auto y = corio::spawn(party);
        co_await turns(2);
        REQUIRE(b.n_waiting() == 2);
        b.reset();
        REQUIRE(b.n_waiting() == 0); // resetting
        // Arriving while they leave: this one waits for the reset to finish.
        auto z = corio::spawn(party);
        REQUIRE_THROWS_AS(co_await x, corio::broken_barrier_error);
        REQUIRE_THROWS_AS(co_await y, corio::broken_barrier_error);
        co_await turns(2);
        REQUIRE_FALSE(b.broken());
        REQUIRE(b.n_waiting() == 1); // z, in a fresh round
        auto w = corio::spawn(party);
        co_await turns(1);
        auto got6 = co_await b.wait();
        REQUIRE(got6 == 2);
        auto got7 = co_await z;
        REQUIRE(got7 == 0);
        auto got8 = co_await w;
        REQUIRE(got8 == 1);
    }());
}

TEST_CASE("semantics: barrier: a cancelled waiter leaves without breaking the barrier") {
    corio::run([]() -> task<void> {
        corio::barrier b(2);
        auto w = corio::spawn([&]() -> task<void> { (void)co_await b.wait(); });
        co_await turns(2);
        REQUIRE(b.n_waiting() == 1);
        REQUIRE(w.cancel());
        bool cancelled = co_await ended_cancelled(w);
        REQUIRE(cancelled);
        REQUIRE(b.n_waiting() == 0);
        REQUIRE_FALSE(b.broken());
        auto x = corio::spawn([&]() -> task<std::size_t> { co_return co_await b.wait(); });
        co_await turns(1);
        auto got9 = co_await b.wait();
        REQUIRE(got9 == 1);
        auto got10 = co_await x;
        REQUIRE(got10 == 0);
    }());
}

TEST_CASE("semantics: bounded_semaphore: a release too many while a permit is handed over fails at the waiter's release") {
    corio::run([]() -> task<void> {
        corio::bounded_semaphore s(1);
        co_await s.acquire();
        auto w = corio::spawn([&]() -> task<void> {
            co_await s.acquire();
            s.release();
        });
        co_await turns(1);
        s.release(); // handed to w
        REQUIRE(s.value() == 0);
        s.release(); // one too many, not yet visible
        REQUIRE(s.value() == 1);
        REQUIRE_THROWS_AS(co_await w, std::logic_error);
        REQUIRE(s.value() == 1);
    }());
}

TEST_CASE("semantics: lifo_queue: last in, first out; a handed-back item goes under those put after it") {
    corio::run([]() -> task<void> {
        corio::lifo_queue<int> q;
        for (int i = 1; i <= 3; ++i) q.put_nowait(i);
        REQUIRE(q.get_nowait() == 3);
        auto got13 = co_await q.get();
        REQUIRE(got13 == 2);
        REQUIRE(q.get_nowait() == 1);
        REQUIRE_THROWS_AS(q.get_nowait(), corio::queue_empty);

        auto g = corio::spawn([&]() -> task<int> { co_return co_await q.get(); });
        co_await turns(1);
        q.put_nowait(10); // handed to g
        q.put_nowait(20);
        REQUIRE(g.cancel());
        REQUIRE_THROWS_AS(co_await g, corio::cancelled_error);
        REQUIRE(q.qsize() == 2);
        REQUIRE(q.get_nowait() == 20); // 20 came after 10: 10 goes back under it
        REQUIRE(q.get_nowait() == 10);
    }());
}

TEST_CASE("semantics: queue shutdown(immediate): items are dropped and count as done, join ends") {
    corio::run([]() -> task<void> {
        corio::queue<int> q;
        for (int i = 0; i < 3; ++i) q.put_nowait(i);
        REQUIRE(q.get_nowait() == 0); // taken, not yet done
        auto joiner = corio::spawn([&]() -> task<void> { co_await q.join(); });
        co_await turns(1);
        q.shutdown(true);
        REQUIRE(q.empty());
        REQUIRE_THROWS_AS(co_await q.get(), corio::queue_shut_down);
        co_await turns(1);
        REQUIRE_FALSE(joiner.done()); // the item taken is still unfinished
        q.task_done();
        co_await joiner;
        REQUIRE_THROWS_AS(q.task_done(), std::logic_error);
    }());
}

