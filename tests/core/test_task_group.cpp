// task_group (asyncio.TaskGroup) and as_completed: who is cancelled when, which errors come
// out, and that no child outlives the group or leaks its frame.
#define CORIO_COUNT_FRAMES 1
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "corio_test.hpp"

using namespace std::chrono_literals;

namespace {

std::vector<std::string> messages(const corio::exception_group& g) {
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

// Runs main on a fresh loop whose exception handler counts reports.
template <class F>
int run_counting_reports(F main) {
    int reports = 0;
    corio::run([&]() -> corio::task<void> {
        corio::event_loop::current().set_exception_handler([&](std::exception_ptr) { ++reports; });
        co_await main();
    }());
    REQUIRE(corio::detail::live_frames.load() == 0);
    return reports;
}

} // namespace

TEST_CASE("task_group: waits for the body and every child, children spawning children") {
    int reports = run_counting_reports([]() -> corio::task<void> {
        std::vector<int> order;
        corio::event ev;
        std::optional<corio::task_handle<int>> a;
        auto body = [&](corio::task_group& g) -> corio::task<int> {
            a = g.spawn([&]() -> corio::task<int> {
                co_await ev.wait();
                order.push_back(1);
                co_return 10;
            });
            auto b = [&](corio::task_group& grp) -> corio::task<void> {
                co_await corio::sleep(0s);
                order.push_back(2);
                (void)grp.spawn([&]() -> corio::task<void> { // a grandchild, spawned late
                    co_await corio::sleep(1ms);
                    order.push_back(3);
                    ev.set();
                });
            };
            (void)g.spawn(b, std::ref(g));
            REQUIRE(g.running() == 2);
            REQUIRE(order.empty()); // children start on the next turn
            co_return 7; // the body is done; the group still waits for its children
        };
        int v = co_await corio::task_group::run(body);
        REQUIRE(v == 7);
        REQUIRE(order == std::vector<int>{2, 3, 1});
        REQUIRE(a->done());
        REQUIRE(a->result() == 10);
    });
    REQUIRE(reports == 0);
}

TEST_CASE("task_group: the first failure cancels the body and the siblings; every error comes out") {
    int reports = run_counting_reports([]() -> corio::task<void> {
        bool body_cancelled = false, sibling_cancelled = false, late_started = false;
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
            (void)g.spawn([&]() -> corio::task<void> { // cancelled quietly: not an error
                co_await corio::sleep(1h);
            });
            try {
                co_await corio::sleep(1h);
            } catch (const corio::cancelled_error&) {
                body_cancelled = true;
                REQUIRE(g.aborting());
                // A group shutting down takes no new children (asyncio's RuntimeError).
                REQUIRE_THROWS_AS(g.spawn([&]() -> corio::task<void> {
                    late_started = true;
                    co_return;
                }),
                                  std::logic_error);
                throw;
            }
        };
        bool caught = false;
        try {
            co_await corio::task_group::run(body);
        } catch (const corio::exception_group& e) {
            caught = true;
            REQUIRE(e.size() == 2);
            REQUIRE(messages(e) == std::vector<std::string>{"first", "second, while unwinding"});
            REQUIRE(e.count<std::runtime_error>() == 2);
            REQUIRE(e.count<corio::cancelled_error>() == 0);
            REQUIRE(std::string(e.what()).find("2 sub-exceptions") != std::string::npos);
            REQUIRE(std::string(e.what()).find("first") != std::string::npos);
        }
        REQUIRE(caught);
        REQUIRE(body_cancelled);
        REQUIRE(sibling_cancelled);
        REQUIRE_FALSE(late_started);
        co_await corio::sleep(1ms); // the awaiting task itself is not cancelled
    });
    REQUIRE(reports == 0); // the group took the errors: nothing reaches the loop's handler
}

TEST_CASE("task_group: a failing body cancels the children; its error comes last") {
    run_counting_reports([]() -> corio::task<void> {
        int cancelled_children = 0;
        auto body = [&](corio::task_group& g) -> corio::task<void> {
            for (int i = 0; i < 3; ++i)
                (void)g.spawn([&]() -> corio::task<void> {
                    try {
                        co_await corio::sleep(1h);
                    } catch (const corio::cancelled_error&) {
                        ++cancelled_children;
                        throw;
                    }
                });
            co_await corio::sleep(1ms);
            throw std::invalid_argument("body");
        };
        try {
            co_await corio::task_group::run(body);
            FAIL("no exception_group");
        } catch (const corio::exception_group& e) {
            REQUIRE(messages(e) == std::vector<std::string>{"body"});
            REQUIRE(e.count<std::invalid_argument>() == 1);
        }
        REQUIRE(cancelled_children == 3);
    });
}

TEST_CASE("task_group: cancelling the awaiting task cancels every child, then throws cancelled_error") {
    run_counting_reports([]() -> corio::task<void> {
        int unwound = 0;
        bool group_returned = false;
        auto body = [&](corio::task_group& g) -> corio::task<void> {
            for (int i = 0; i < 3; ++i)
                (void)g.spawn([&]() -> corio::task<void> {
                    bool cancelled = false;
                    try {
                        co_await corio::sleep(1h);
                    } catch (const corio::cancelled_error&) {
                        cancelled = true;
                    }
                    REQUIRE(cancelled);
                    co_await corio::sleep(1ms); // unwinding takes a while
                    ++unwound;
                    throw corio::cancelled_error();
                });
            co_await corio::sleep(1h);
        };
        auto outer = [&]() -> corio::task<void> {
            co_await corio::task_group::run(body);
            group_returned = true;
        };
        auto h = corio::spawn(outer);
        co_await corio::sleep(1ms);
        REQUIRE(h.cancel());
        REQUIRE_THROWS_AS(co_await h, corio::cancelled_error);
        REQUIRE(unwound == 3); // no child outlived the group
        REQUIRE_FALSE(group_returned);
        REQUIRE(h.cancelling() == 1); // the group withdrew nothing it did not add
    });
}

TEST_CASE("task_group: a cancellation pending before the await runs no body") {
    run_counting_reports([]() -> corio::task<void> {
        bool ran = false;
        auto body = [&](corio::task_group&) -> corio::task<void> {
            ran = true;
            co_return;
        };
        corio::task_handle<void>* self = nullptr;
        auto outer = [&]() -> corio::task<void> {
            REQUIRE(self->cancel()); // pending: delivered at the group's await
            co_await corio::task_group::run(body);
        };
        auto h = corio::spawn(outer);
        self = &h;
        REQUIRE_THROWS_AS(co_await h, corio::cancelled_error);
        REQUIRE_FALSE(ran);
    });
}

TEST_CASE("task_group: a child cancelled through its handle is no failure; a finished group refuses children") {
    run_counting_reports([]() -> corio::task<void> {
        corio::task_group* kept = nullptr;
        corio::event last_step;
        bool refused = false, cancelled_child = false;
        std::optional<corio::task_handle<void>> victim;
        auto body = [&](corio::task_group& g) -> corio::task<int> {
            kept = &g;
            victim = g.spawn([]() -> corio::task<void> { co_await corio::sleep(1h); });
            REQUIRE(victim->cancel());
            (void)g.spawn([&]() -> corio::task<void> {
                co_await victim->wait();
                cancelled_child = victim->cancelled();
                last_step.set(); // wakes the intruder before the group's end wakes its awaiter
            });
            co_return 1; // before the children: the last child ends the group
        };
        // Between the group's end and the awaiting task's resumption, another task tries.
        auto intruder = corio::spawn([&]() -> corio::task<void> {
            co_await last_step.wait();
            REQUIRE(kept->running() == 0);
            try {
                (void)kept->spawn([]() -> corio::task<void> { co_return; });
            } catch (const std::logic_error&) {
                refused = true;
            }
        });
        int v = co_await corio::task_group::run(body);
        REQUIRE(v == 1);
        co_await intruder;
        REQUIRE(refused);
        REQUIRE(cancelled_child);
    });
}

TEST_CASE("task_group: a child that fails after the body returned still fails the group") {
    run_counting_reports([]() -> corio::task<void> {
        auto body = [](corio::task_group& g) -> corio::task<int> {
            (void)g.spawn([]() -> corio::task<void> {
                co_await corio::sleep(1ms);
                throw std::runtime_error("late");
            });
            co_return 5;
        };
        REQUIRE_THROWS_AS(co_await corio::task_group::run(body), corio::exception_group);
    });
}

TEST_CASE("task_group: the body's own cancelled_error passes through") {
    run_counting_reports([]() -> corio::task<void> {
        bool child_cancelled = false;
        auto body = [&](corio::task_group& g) -> corio::task<void> {
            (void)g.spawn([&]() -> corio::task<void> {
                try {
                    co_await corio::sleep(1h);
                } catch (const corio::cancelled_error&) {
                    child_cancelled = true;
                    throw;
                }
            });
            co_await corio::sleep(0s);
            throw corio::cancelled_error();
        };
        REQUIRE_THROWS_AS(co_await corio::task_group::run(body), corio::cancelled_error);
        REQUIRE(child_cancelled);
    });
}

TEST_CASE("task_group: a loop shut down with a group running frees every frame") {
    corio::event never; // outlives the loop, and with it every frame waiting on it
    run_counting_reports([&]() -> corio::task<void> {
        auto body = [&never](corio::task_group& g) -> corio::task<void> {
            for (int i = 0; i < 3; ++i)
                (void)g.spawn([&never]() -> corio::task<void> {
                    for (;;) {
                        try {
                            co_await never.wait();
                        } catch (const corio::cancelled_error&) {
                        } // refuses to stop: the loop has to destroy it
                    }
                });
            co_await never.wait();
        };
        (void)corio::spawn([body]() -> corio::task<void> { co_await corio::task_group::run(body); });
        co_await corio::sleep(1ms);
        // main returns; shutdown cancels, then destroys what will not finish
    });
}

TEST_CASE("as_completed: results in finishing order, exceptions in their place") {
    run_counting_reports([]() -> corio::task<void> {
        auto after = [](int ms) -> corio::task<int> {
            co_await corio::sleep(std::chrono::milliseconds(ms));
            if (ms == 20) throw std::runtime_error("twenty");
            co_return ms;
        };
        std::vector<corio::task<int>> tasks;
        for (int ms : {30, 1, 20, 10}) tasks.push_back(after(ms));
        auto ac = corio::as_completed(std::move(tasks));
        REQUIRE(ac.remaining() == 4);
        std::vector<int> got;
        while (auto next = ac.next()) {
            try {
                int v = co_await *next;
                got.push_back(v);
            } catch (const std::runtime_error&) {
                got.push_back(-1);
            }
        }
        REQUIRE(got == std::vector<int>{1, 10, -1, 30});
        REQUIRE(ac.remaining() == 0);
        REQUIRE_FALSE(ac.next());
    });
}

TEST_CASE("as_completed: leaving early cancels the rest, which unwind on their own") {
    int reports = run_counting_reports([]() -> corio::task<void> {
        int unwound = 0;
        auto work = [&](int ms) -> corio::task<int> {
            try {
                co_await corio::sleep(std::chrono::milliseconds(ms));
            } catch (const corio::cancelled_error&) {
                ++unwound;
                throw;
            }
            co_return ms;
        };
        {
            std::vector<corio::task<int>> tasks;
            tasks.push_back(work(1));
            tasks.push_back(work(10000));
            tasks.push_back(work(20000));
            auto ac = corio::as_completed(std::move(tasks));
            auto first = ac.next();
            int v = co_await *first;
            REQUIRE(v == 1);
        } // destroyed with two running
        co_await corio::sleep(1ms);
        REQUIRE(unwound == 2);
        {
            std::vector<corio::task<int>> tasks;
            corio::event go;
            auto quick = [&]() -> corio::task<int> {
                co_await go.wait();
                co_return 1;
            };
            tasks.push_back(work(10000));
            tasks.push_back(quick());
            auto ac = corio::as_completed(std::move(tasks));
            go.set();
            for (int i = 0; i < 3; ++i) co_await corio::sleep(0s); // quick() has finished
            co_await ac.close();
            REQUIRE(unwound == 3); // finished before close() returned
            auto n = ac.next();
            int v = co_await *n; // what finished is still there
            REQUIRE(v == 1);
            auto n2 = ac.next();
            REQUIRE_THROWS_AS(co_await *n2, corio::cancelled_error); // the cancelled one
        }
    });
    REQUIRE(reports == 0);
}

TEST_CASE("as_completed: a cancelled consumer leaves the result for the next await, and cancels the rest on exit") {
    run_counting_reports([]() -> corio::task<void> {
        int unwound = 0;
        corio::event ev;
        // Here, not in the consumer: the tasks may unwind after the consumer has gone.
        auto gated = [&]() -> corio::task<int> {
            co_await ev.wait();
            co_return 3;
        };
        auto slow = [&]() -> corio::task<int> {
            try {
                co_await corio::sleep(1h);
            } catch (const corio::cancelled_error&) {
                ++unwound;
                throw;
            }
            co_return 4;
        };
        auto consumer = [&]() -> corio::task<void> {
            std::vector<corio::task<int>> tasks;
            tasks.push_back(gated());
            tasks.push_back(slow());
            auto ac = corio::as_completed(std::move(tasks));
            bool caught = false;
            try {
                auto n = ac.next();
                REQUIRE(ac.remaining() == 1);
                co_await *n;
            } catch (const corio::cancelled_error&) {
                caught = true;
            }
            REQUIRE(caught);
            REQUIRE(ac.remaining() == 2); // the cancelled await took nothing
            auto n = ac.next();
            int v = co_await *n; // waits for the gated task
            REQUIRE(v == 3);
            auto n2 = ac.next();
            co_await *n2; // cancelled here: leaving cancels the slow task
        };
        auto h = corio::spawn(consumer);
        co_await corio::sleep(1ms);
        REQUIRE(h.cancel()); // the first await
        co_await corio::sleep(1ms);
        ev.set();
        co_await corio::sleep(1ms);
        REQUIRE_FALSE(h.done());
        REQUIRE(h.cancel()); // the second
        REQUIRE_THROWS_AS(co_await h, corio::cancelled_error);
        co_await corio::sleep(1ms);
        REQUIRE(unwound == 1);
    });
}

TEST_CASE("task_group: a thousand children, one failing, the rest cancelled whatever state they are in") {
    int reports = run_counting_reports([]() -> corio::task<void> {
        int cancelled = 0, finished = 0;
        corio::event ev;
        auto body = [&](corio::task_group& g) -> corio::task<void> {
            for (int i = 0; i < 1000; ++i) {
                (void)g.spawn([&, i]() -> corio::task<void> {
                    try {
                        if (i % 3 == 0) co_await ev.wait();
                        else if (i % 3 == 1) co_await corio::sleep(1h);
                        else co_await corio::sleep(0s);
                    } catch (const corio::cancelled_error&) {
                        ++cancelled;
                        throw;
                    }
                    ++finished;
                    if (i == 500) throw std::runtime_error("500");
                });
            }
            co_return;
        };
        std::size_t errors = 0;
        try {
            co_await corio::task_group::run(body);
        } catch (const corio::exception_group& e) {
            errors = e.size();
            REQUIRE(std::string(e.what()).find("(1 sub-exception): 500") != std::string::npos);
        }
        REQUIRE(errors == 1);
        REQUIRE(cancelled + finished == 1000);
        // Every waiter (667), and the yielders after 500: woken by their sleep(0) in the same
        // turn but not resumed yet, they are cancelled there (166). Those before 500 finished.
        REQUIRE(cancelled == 667 + 166);
        REQUIRE(finished == 167);
    });
    REQUIRE(reports == 0);
}
