// timeout / timeout_at (asyncio.timeout) and shield: which cancellation becomes
// timeout_error, moving a deadline, nesting, and work that outlives its awaiter on purpose.
#define CORIO_COUNT_FRAMES 1
#include <optional>
#include <stdexcept>

#include "corio_test.hpp"

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

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

corio::task<int> value_after(std::chrono::milliseconds d, int v) {
    co_await corio::sleep(d);
    co_return v;
}

} // namespace

TEST_CASE("timeout: work that finishes in time gives its value; the scope did not expire") {
    run_counting_reports([]() -> corio::task<void> {
        int v = co_await corio::timeout(1h, value_after(0ms, 3));
        REQUIRE(v == 3);
        bool expired = true;
        auto body = [&](corio::timeout_scope& s) -> corio::task<int> {
            co_await corio::sleep(0s);
            expired = s.expired();
            REQUIRE(s.when());
            co_return 4;
        };
        int w = co_await corio::timeout(1h, body);
        REQUIRE(w == 4);
        REQUIRE_FALSE(expired);
    });
}

TEST_CASE("timeout: on expiry the work is cancelled and unwinds, then timeout_error") {
    run_counting_reports([]() -> corio::task<void> {
        bool unwound = false, expired_inside = false;
        auto body = [&](corio::timeout_scope& s) -> corio::task<void> {
            try {
                co_await corio::sleep(1h);
            } catch (const corio::cancelled_error&) {
                unwound = true;
                expired_inside = s.expired();
                throw;
            }
        };
        REQUIRE_THROWS_AS(co_await corio::timeout(1ms, body), corio::timeout_error);
        REQUIRE(unwound);
        REQUIRE(expired_inside);
        // A zero or past deadline expires the work at its first suspension.
        REQUIRE_THROWS_AS(co_await corio::timeout(0s, value_after(1h, 1)), corio::timeout_error);
        REQUIRE_THROWS_AS(co_await corio::timeout_at(steady::now() - 1s, value_after(1h, 1)),
                          corio::timeout_error);
        // Work that does not suspend finishes in spite of it.
        auto at_once = []() -> corio::task<int> { co_return 8; };
        int v = co_await corio::timeout(0s, at_once);
        REQUIRE(v == 8);
        co_await corio::sleep(1ms); // the awaiting task is not cancelled afterwards
    });
}

TEST_CASE("timeout: work that swallows the cancellation and returns gives its value (asyncio)") {
    run_counting_reports([]() -> corio::task<void> {
        auto body = [](corio::timeout_scope& s) -> corio::task<int> {
            try {
                co_await corio::sleep(1h);
            } catch (const corio::cancelled_error&) {
            }
            REQUIRE(s.expired());
            co_return 7;
        };
        int v = co_await corio::timeout(1ms, body);
        REQUIRE(v == 7);
        // Another exception from the unwinding work passes through as it is.
        auto other = [](corio::timeout_scope&) -> corio::task<int> {
            try {
                co_await corio::sleep(1h);
            } catch (const corio::cancelled_error&) {
            }
            throw std::runtime_error("other");
        };
        REQUIRE_THROWS_AS(co_await corio::timeout(1ms, other), std::runtime_error);
    });
}

TEST_CASE("timeout: reschedule moves the deadline, clears it, or expires at once; not after expiry") {
    run_counting_reports([]() -> corio::task<void> {
        auto later = [](corio::timeout_scope& s) -> corio::task<int> {
            auto far = steady::now() + 1h;
            s.reschedule(far);
            REQUIRE(s.when() == std::optional<steady::time_point>(far));
            co_await corio::sleep(20ms); // past the original deadline
            co_return 1;
        };
        int v = co_await corio::timeout(1ms, later);
        REQUIRE(v == 1);

        auto cleared = [](corio::timeout_scope& s) -> corio::task<int> {
            s.reschedule(std::nullopt);
            REQUIRE_FALSE(s.when());
            co_await corio::sleep(20ms);
            co_return 2;
        };
        v = co_await corio::timeout(1ms, cleared);
        REQUIRE(v == 2);

        bool refused = false;
        auto sooner = [&](corio::timeout_scope& s) -> corio::task<void> {
            co_await corio::sleep(0s);
            s.reschedule(steady::now() - 1ms); // in the past: expires on the next turn
            try {
                co_await corio::sleep(1h);
            } catch (const corio::cancelled_error&) {
                try {
                    s.reschedule(steady::now() + 1h);
                } catch (const std::logic_error&) {
                    refused = true;
                }
                throw;
            }
        };
        REQUIRE_THROWS_AS(co_await corio::timeout(1h, sooner), corio::timeout_error);
        REQUIRE(refused);

        // No deadline until the body sets one.
        auto set_one = [](corio::timeout_scope& s) -> corio::task<void> {
            REQUIRE_FALSE(s.when());
            s.reschedule(steady::now() + 1ms);
            co_await corio::sleep(1h);
        };
        REQUIRE_THROWS_AS(co_await corio::timeout_at(std::nullopt, set_one), corio::timeout_error);
    });
}

TEST_CASE("timeout: nested scopes, the inner expiring first and the outer expiring first") {
    run_counting_reports([]() -> corio::task<void> {
        // The inner expires: its timeout_error is the inner's, and the outer goes on.
        bool inner_timed_out = false;
        auto inner_first = [&](corio::timeout_scope& outer) -> corio::task<int> {
            try {
                co_await corio::timeout(1ms, value_after(1h, 0));
            } catch (const corio::timeout_error&) {
                inner_timed_out = true;
            }
            REQUIRE_FALSE(outer.expired());
            co_return 5;
        };
        int v = co_await corio::timeout(1h, inner_first);
        REQUIRE(v == 5);
        REQUIRE(inner_timed_out);

        // The outer expires: the inner passes the cancellation through as cancelled_error,
        // and only the outer turns it into timeout_error.
        bool inner_saw_cancel = false, inner_expired = true;
        auto outer_first = [&](corio::timeout_scope&) -> corio::task<void> {
            auto inner = [&](corio::timeout_scope& s) -> corio::task<void> {
                try {
                    co_await corio::sleep(1h);
                } catch (const corio::cancelled_error&) {
                    inner_expired = s.expired();
                    throw;
                }
            };
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
    });
}

TEST_CASE("timeout: a cancellation from outside passes through, even if the deadline passed at once") {
    run_counting_reports([]() -> corio::task<void> {
        // Plainly: cancelling the awaiting task gives cancelled_error, not timeout_error.
        auto h = corio::spawn([]() -> corio::task<void> { co_await corio::timeout(1h, value_after(1h, 0)); });
        co_await corio::sleep(1ms);
        REQUIRE(h.cancel());
        REQUIRE_THROWS_AS(co_await h, corio::cancelled_error);

        // Concurrently: the deadline fires and, before the work has unwound, the task is
        // cancelled. The canceller's timer is due a nanosecond before the deadline, so one
        // pass over the due timers fires both, the canceller first: it runs before the
        // work resumes.
        auto deadline = steady::now() + 20ms;
        bool expired = false;
        auto body = [&](corio::timeout_scope& s) -> corio::task<void> {
            try {
                co_await corio::sleep(1h);
            } catch (const corio::cancelled_error&) {
                expired = s.expired();
                throw;
            }
        };
        auto victim = corio::spawn([&]() -> corio::task<void> { co_await corio::timeout_at(deadline, body); });
        auto canceller = corio::spawn([&]() -> corio::task<void> {
            co_await corio::sleep_until(deadline - 1ns);
            REQUIRE(victim.cancel());
        });
        REQUIRE_THROWS_AS(co_await victim, corio::cancelled_error);
        co_await canceller;
        REQUIRE(expired);
        REQUIRE(victim.cancelling() == 1); // the scope never touched the task's count

        // A task whose timeout expired is not left cancelled: nothing to uncancel.
        auto timed_out = corio::spawn([]() -> corio::task<bool> {
            bool caught = false;
            try {
                co_await corio::timeout(1ms, value_after(1h, 0));
            } catch (const corio::timeout_error&) {
                caught = true;
            }
            co_await corio::sleep(1ms); // not cancelled
            co_return caught;
        });
        bool ok = co_await timed_out;
        REQUIRE(ok);
        REQUIRE(timed_out.cancelling() == 0);
    });
}

TEST_CASE("wait_for is a timeout without a scope; timeout_at takes other clocks") {
    run_counting_reports([]() -> corio::task<void> {
        int v = co_await corio::wait_for(value_after(0ms, 9), 1h);
        REQUIRE(v == 9);
        REQUIRE_THROWS_AS(co_await corio::wait_for(value_after(1h, 0), 1ms), corio::timeout_error);
        int w = co_await corio::timeout_at(std::chrono::system_clock::now() + 1h, value_after(0ms, 6));
        REQUIRE(w == 6);
    });
}

TEST_CASE("shield: the value comes through; a cancelled awaiter leaves at once, the work goes on") {
    int reports = run_counting_reports([]() -> corio::task<void> {
        int v = co_await corio::shield(value_after(0ms, 2));
        REQUIRE(v == 2);

        corio::event go;
        bool finished = false;
        auto work = [&]() -> corio::task<int> {
            co_await go.wait();
            finished = true;
            co_return 1;
        };
        auto awaiter = corio::spawn([&]() -> corio::task<int> { co_return co_await corio::shield(work); });
        co_await corio::sleep(1ms);
        REQUIRE(awaiter.cancel());
        REQUIRE_THROWS_AS(co_await awaiter, corio::cancelled_error);
        REQUIRE_FALSE(finished); // left before the work ended
        go.set();
        co_await corio::sleep(1ms);
        REQUIRE(finished); // and the work was not cancelled
    });
    REQUIRE(reports == 0);
}

TEST_CASE("shield: a failure after the awaiter left goes to the loop's exception handler") {
    int reports = run_counting_reports([]() -> corio::task<void> {
        corio::event go;
        auto work = [&]() -> corio::task<void> {
            co_await go.wait();
            throw std::runtime_error("after the awaiter left");
        };
        auto awaiter = corio::spawn([&]() -> corio::task<void> { co_await corio::shield(work); });
        co_await corio::sleep(1ms);
        REQUIRE(awaiter.cancel());
        REQUIRE_THROWS_AS(co_await awaiter, corio::cancelled_error);
        go.set();
        co_await corio::sleep(1ms);
        // A failure the awaiter sees is not reported.
        auto fails = []() -> corio::task<void> {
            co_await corio::sleep(0s);
            throw std::runtime_error("seen");
        };
        REQUIRE_THROWS_AS(co_await corio::shield(fails), std::runtime_error);
    });
    REQUIRE(reports == 1);
}
