// Virtual time: the loop's clock stands still while tasks run and jumps to the next timer
// when nothing else can happen. The tests check exact virtual timestamps, that the order
// of events is the one real time gives, and that pool work and loopback I/O are waited
// for before the clock jumps past their timeouts.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "helpers/net_helpers.hpp"

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

struct event {
    clock_type::duration at; // since the schedule began
    std::string what;
    bool operator==(const event&) const = default;
};

// A cron-like schedule in units of `minute`: a job starts at every tick; job k does work
// that takes 3/60 of a unit, except every 7th job, whose first attempt takes half a unit
// and is cut by its timeout (1/6 of a unit); it then waits 1/12 of a unit and retries.
struct schedule {
    clock_type::duration minute;
    int ticks;

    clock_type::duration work_time(int k, int attempt) const {
        return k % 7 == 0 && attempt == 0 ? minute / 2 : minute * 3 / 60;
    }
    clock_type::duration timeout() const { return minute / 6; }
    clock_type::duration backoff() const { return minute / 12; }

    corio::task<void> job(int k, clock_type::time_point start, std::vector<event>& log) const {
        for (int attempt = 0;; ++attempt) {
            try {
                co_await corio::wait_for(corio::sleep(work_time(k, attempt)), timeout());
                log.push_back({corio::now() - start, "done " + std::to_string(k)});
                co_return;
            } catch (const corio::timeout_error&) {
                log.push_back({corio::now() - start, "timeout " + std::to_string(k)});
            }
            co_await corio::sleep(backoff());
        }
    }

    corio::task<std::vector<event>> run() const {
        std::vector<event> log;
        auto start = corio::now();
        for (int k = 0; k < ticks; ++k) {
            co_await corio::sleep_until(start + k * minute);
            log.push_back({corio::now() - start, "tick " + std::to_string(k)});
            co_await job(k, start, log);
        }
        co_return log;
    }

    // What the schedule must produce, worked out without a loop.
    std::vector<event> expected() const {
        std::vector<event> log;
        for (int k = 0; k < ticks; ++k) {
            auto t = k * minute;
            log.push_back({t, "tick " + std::to_string(k)});
            for (int attempt = 0;; ++attempt) {
                if (work_time(k, attempt) > timeout()) {
                    t += timeout();
                    log.push_back({t, "timeout " + std::to_string(k)});
                    t += backoff();
                    continue;
                }
                t += work_time(k, attempt);
                log.push_back({t, "done " + std::to_string(k)});
                break;
            }
        }
        return log;
    }
};

std::vector<std::string> names(const std::vector<event>& log) {
    std::vector<std::string> out;
    for (auto& e : log) out.push_back(e.what);
    return out;
}

} // namespace

TEST_CASE("virtual time: a day of minutes with timeouts and retries, at exact virtual times") {
    schedule day{1min, 24 * 60};
    auto wall = clock_type::now();
    auto log = corio::run(day.run(), corio::run_options{.clock = corio::virtual_time});
    auto took = std::chrono::duration<double>(clock_type::now() - wall).count();
    std::printf("a day of %d ticks took %.3f s of wall time\n", day.ticks, took);
    REQUIRE(log.size() == day.expected().size());
    REQUIRE(log == day.expected()); // exact: the clock stands still while tasks run
    REQUIRE(log.back().at > 23h);
}

TEST_CASE("virtual time: the same schedule gives the same sequence of events in real time") {
    schedule fast{40ms, 15};
    auto real = corio::run(fast.run());
    auto virt = corio::run(fast.run(), corio::run_options{.clock = corio::virtual_time});
    REQUIRE(names(real) == names(virt));
    REQUIRE(virt == fast.expected());
}

TEST_CASE("virtual time: now() moves only by what was slept, and concurrent timers keep their order") {
    auto main = []() -> corio::task<void> {
        auto t0 = corio::now();
        co_await corio::sleep(90min);
        REQUIRE(corio::now() - t0 == 90min);
        std::vector<int> order;
        auto sleeper = [&order](int id, clock_type::duration d) -> corio::task<void> {
            co_await corio::sleep(d);
            order.push_back(id);
        };
        co_await corio::gather(sleeper(3, 3h), sleeper(1, 1h), sleeper(2, 2h), sleeper(0, 0s));
        REQUIRE(order == std::vector<int>{0, 1, 2, 3});
        REQUIRE(corio::now() - t0 == 90min + 3h);
        REQUIRE(corio::event_loop::current().virtual_time());
    };
    corio::run(main(), corio::run_options{.clock = corio::virtual_time});
}

TEST_CASE("virtual time: pool work is waited for in real time before the clock jumps") {
    auto main = []() -> corio::task<void> {
        auto t0 = corio::now();
        bool timer_fired = false;
        auto timer = [&timer_fired]() -> corio::task<void> {
            co_await corio::sleep(1h);
            timer_fired = true;
        };
        auto h = corio::spawn(timer());
        auto work = [] {
            std::this_thread::sleep_for(30ms);
            return 7;
        };
        int v = co_await corio::to_thread(work);
        REQUIRE(v == 7);
        REQUIRE_FALSE(timer_fired);           // the jump waited for the job
        REQUIRE(corio::now() - t0 >= 20ms);   // time ran with real time meanwhile (30 ms, less what ran outside the wait)
        REQUIRE(corio::now() - t0 < 1h);
        co_await h;
        REQUIRE(timer_fired);
        REQUIRE(corio::now() - t0 >= 1h);
    };
    corio::run(main(), corio::run_options{.clock = corio::virtual_time});
}

TEST_CASE("virtual time: loopback I/O between tasks of the loop beats a timeout; silence does not") {
    auto main = []() -> corio::task<void> {
        auto pair = co_await net_test::connected_pair();
        auto t0 = corio::now();
        // A long timer elsewhere must not make the clock jump past the I/O.
        auto far = []() -> corio::task<void> { co_await corio::sleep(24h); };
        auto h = corio::spawn(far());
        for (int i = 0; i < 100; ++i) {
            std::string msg = "ping " + std::to_string(i) + "\n";
            pair.client.write(msg);
            co_await pair.client.drain();
            auto line = co_await corio::wait_for(pair.served.readline(), 1s);
            REQUIRE(line == msg);
        }
        REQUIRE(corio::now() - t0 < 1s);
        // Nobody writes: the read times out at exactly its virtual deadline.
        auto before = corio::now();
        bool timed_out = false;
        try {
            (void)co_await corio::wait_for(pair.served.read(1), 30s);
        } catch (const corio::timeout_error&) {
            timed_out = true;
        }
        REQUIRE(timed_out);
        REQUIRE(corio::now() - before == 30s);
        h.cancel();
        bool cancelled = false;
        try {
            co_await h;
        } catch (const corio::cancelled_error&) {
            cancelled = true;
        }
        REQUIRE(cancelled);
    };
    corio::run(main(), corio::run_options{.clock = corio::virtual_time});
}

TEST_CASE("virtual time: cancelling a long sleep works as in real time and the clock does not move") {
    auto main = []() -> corio::task<void> {
        auto t0 = corio::now();
        auto sleeper = []() -> corio::task<void> { co_await corio::sleep(1000h); };
        auto h = corio::spawn(sleeper());
        co_await corio::sleep(0s);
        REQUIRE(h.cancel());
        bool cancelled = false;
        try {
            co_await h;
        } catch (const corio::cancelled_error&) {
            cancelled = true;
        }
        REQUIRE(cancelled);
        REQUIRE(corio::now() == t0);
    };
    corio::run(main(), corio::run_options{.clock = corio::virtual_time});
}

// The example of README.md's "Testing with virtual time", as it is written there.
namespace readme {

corio::task<int> fetch_with_retries(corio::task<int> (*step)(int), int tries) {
    auto backoff = 1s;
    for (int i = 0;; ++i) {
        try {
            co_return co_await corio::wait_for(step(i), 10s);
        } catch (const corio::timeout_error&) {
            if (i + 1 == tries) throw;
        }
        co_await corio::sleep(backoff);
        backoff *= 2;
    }
}

corio::task<int> slow_twice(int attempt) {
    co_await corio::sleep(attempt < 2 ? 1h : 3s);  // hangs twice, then answers
    co_return 42;
}

TEST_CASE("retries with back-off, on the virtual clock") {
    auto test = []() -> corio::task<void> {
        auto t0 = corio::now();
        int v = co_await fetch_with_retries(slow_twice, 5);
        REQUIRE(v == 42);
        REQUIRE(corio::now() - t0 == 10s + 1s + 10s + 2s + 3s);  // exact
    };
    corio::run(test(), {.clock = corio::virtual_time});
}

} // namespace readme
