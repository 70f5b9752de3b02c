#pragma once
// The five cancellation situations every public awaitable is put through, written once.
// A case describes one awaitable and the state it waits on:
//
//   task<void> block()      puts the primitive where op() has to wait
//   task<void> op()         awaits the awaitable under test once; sets `got` on success
//   task<void> waiting()    returns once a spawned op() is parked in its wait
//   task<void> complete()   makes a parked op()'s wait complete (release, put, send...)
//   int wake_turns          loop turns from complete() until the waiter is woken (I/O: 1)
//   task<void> settle()     brings everything back to rest (lets go of what was taken)
//   void check()            the invariants at rest: nothing lost, nothing leaked
//
// A case may also provide task<void> cancel_after_wake(task_handle<void>&) when its wake-up
// cannot be produced by complete() from the test's own task (timers).
//
// The expected behaviour is asyncio's: CPython's test_tasks, test_locks, test_queues and
// test_waitfor cover the same situations for Task.cancel().
#include <optional>
#include <string>

#include "corio_test.hpp"

namespace conformance {

using namespace std::chrono_literals;

// Awaits `h`; true if it threw cancelled_error.
inline corio::task<bool> ended_cancelled(corio::task_handle<void>& h) {
    try {
        co_await h;
    } catch (const corio::cancelled_error&) {
        co_return true;
    }
    co_return false;
}

template <class Case>
concept custom_wake = requires(Case& c, corio::task_handle<void>& h) { c.cancel_after_wake(h); };

// A task cancelled before it first runs never reaches the awaitable.
template <class Case>
corio::task<void> cancel_before_start(Case& c) {
    co_await c.block();
    bool ran = false;
    auto body = [&]() -> corio::task<void> {
        ran = true;
        co_await c.op();
    };
    auto h = corio::spawn(body());
    REQUIRE(h.cancel());
    bool cancelled = co_await ended_cancelled(h);
    REQUIRE(cancelled);
    REQUIRE_FALSE(ran);
    REQUIRE(h.cancelled());
    REQUIRE_FALSE(c.got);
    co_await c.settle();
    c.check();
}

// Cancelled while parked: the wait ends with cancelled_error and takes nothing.
template <class Case>
corio::task<void> cancel_while_waiting(Case& c) {
    co_await c.block();
    auto h = corio::spawn(c.op());
    co_await c.waiting();
    REQUIRE_FALSE(h.done());
    REQUIRE(h.cancel());
    bool cancelled = co_await ended_cancelled(h);
    REQUIRE(cancelled);
    REQUIRE_FALSE(c.got);
    co_await c.settle();
    c.check();
}

// The wait has completed but the task has not resumed: the cancellation is delivered
// there, and what the wake-up handed over is given back.
template <class Case>
corio::task<void> cancel_after_wake(Case& c) {
    co_await c.block();
    auto h = corio::spawn(c.op());
    co_await c.waiting();
    REQUIRE_FALSE(h.done());
    if constexpr (custom_wake<Case>) {
        co_await c.cancel_after_wake(h);
    } else {
        co_await c.complete();
        for (int i = 0; i < Case::wake_turns; ++i) co_await corio::sleep(0s);
        REQUIRE_FALSE(h.done());
        REQUIRE(h.cancel());
    }
    bool cancelled = co_await ended_cancelled(h);
    REQUIRE(cancelled);
    REQUIRE_FALSE(c.got);
    co_await c.settle();
    c.check();
}

// Two requests before the task resumes deliver one cancelled_error; the task that catches
// it goes on waiting without being cancelled again.
template <class Case>
corio::task<void> double_cancel(Case& c) {
    co_await c.block();
    int caught = 0;
    bool went_on = false;
    auto body = [&]() -> corio::task<void> {
        try {
            co_await c.op();
        } catch (const corio::cancelled_error&) {
            ++caught;
        }
        co_await corio::sleep(1ms);
        went_on = true;
    };
    auto h = corio::spawn(body());
    co_await c.waiting();
    REQUIRE(h.cancel());
    REQUIRE(h.cancel());
    REQUIRE(h.cancelling() == 2);
    bool cancelled = co_await ended_cancelled(h);
    REQUIRE_FALSE(cancelled);
    REQUIRE(caught == 1);
    REQUIRE(went_on);
    REQUIRE_FALSE(c.got);
    co_await c.settle();
    c.check();
}

// After catching the cancellation the task uses the same awaitable again, and it works.
template <class Case>
corio::task<void> cancel_then_go_on(Case& c) {
    co_await c.block();
    bool caught = false;
    auto body = [&]() -> corio::task<void> {
        try {
            co_await c.op();
        } catch (const corio::cancelled_error&) {
            caught = true;
        }
        co_await c.op();
    };
    auto h = corio::spawn(body());
    co_await c.waiting();
    REQUIRE(h.cancel());
    for (int i = 0; i < 1000 && !caught; ++i) co_await corio::sleep(0s);
    REQUIRE(caught);
    REQUIRE(h.uncancel() == 0);
    co_await c.waiting();
    co_await c.complete();
    bool cancelled = co_await ended_cancelled(h);
    REQUIRE_FALSE(cancelled);
    REQUIRE(c.got);
    co_await c.settle();
    c.check();
}

// Runs one situation on a fresh case and a fresh loop.
template <class Case, class Scenario>
void run_scenario(Scenario scenario) {
    Case c;
    corio::run([&]() -> corio::task<void> { co_await scenario(c); }(), {.backend = Case::backend});
    c.after_run();
}

struct case_base {
    bool got = false;
    // The loop's backend: automatic follows CORIO_BACKEND, as CTest sets it for each half.
    static constexpr corio::backend backend = corio::backend::automatic;
    static constexpr int wake_turns = 0;
    corio::task<void> block() { co_return; }
    corio::task<void> waiting() {
        for (int i = 0; i < 3; ++i) co_await corio::sleep(0s);
    }
    corio::task<void> settle() { co_return; }
    void check() {}
    void after_run() {}
};

} // namespace conformance

// Every situation for one case type, as Catch2 sections.
#define CONFORMANCE_CASE(Case)                                                                        \
    TEST_CASE(#Case ": cancel before start, while waiting, after wake-up, twice, then go on") {      \
        using namespace conformance;                                                                  \
        SECTION("cancel before start") {                                                              \
            run_scenario<Case>([](Case& c) { return cancel_before_start(c); });                       \
        }                                                                                             \
        SECTION("cancel while waiting") {                                                             \
            run_scenario<Case>([](Case& c) { return cancel_while_waiting(c); });                      \
        }                                                                                             \
        SECTION("cancel after wake-up, before resume") {                                              \
            run_scenario<Case>([](Case& c) { return cancel_after_wake(c); });                         \
        }                                                                                             \
        SECTION("double cancel") { run_scenario<Case>([](Case& c) { return double_cancel(c); }); }    \
        SECTION("cancel, catch and go on") {                                                          \
            run_scenario<Case>([](Case& c) { return cancel_then_go_on(c); });                         \
        }                                                                                             \
    }
