#define CORIO_COUNT_FRAMES 1
#include "corio_test.hpp"

#include <corio/thread_pool.hpp>

#include <atomic>
#include <condition_variable>
#include <functional> // std::ref
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

// Lambdas given to to_thread inside a co_await expression capture by reference only: GCC 12
// destroys a closure temporary with non-trivial captures twice when it sits in a co_await
// expression (a compiler bug). Named callables or arguments are fine.

namespace {

// Blocks workers until opened. Waiting happens on workers only, never on the loop.
class gate {
public:
    void open() {
        {
            std::lock_guard lk(mu_);
            open_ = true;
        }
        cv_.notify_all();
    }
    void wait() {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return open_; });
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool open_ = false;
};

// Polls from the loop (without blocking it) until `flag` is set.
corio::task<void> until(const std::atomic<bool>& flag) {
    while (!flag.load()) co_await corio::sleep(1ms);
}

struct custom_error : std::runtime_error {
    explicit custom_error(int c) : std::runtime_error("custom " + std::to_string(c)), code(c) {}
    int code;
};

int add(int a, int b) { return a + b; }

std::unique_ptr<int> boxed(std::unique_ptr<int> p) {
    *p += 1;
    return p;
}

// Which workers ran the jobs, and how many ran at once.
struct concurrency_probe {
    std::mutex mu;
    std::set<std::thread::id> ids;
    std::atomic<int> inside{0}, most{0};

    void run_job() {
        int now = ++inside;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(2ms);
        {
            std::lock_guard lk(mu);
            ids.insert(std::this_thread::get_id());
        }
        --inside;
    }
};

// A coroutine's lambda captures die with the closure, so gathered jobs are plain functions.
corio::task<void> probe_job(concurrency_probe* p) {
    co_await corio::to_thread(&concurrency_probe::run_job, p);
}

} // namespace

TEST_CASE("to_thread runs fn on a worker and returns its value on the loop thread") {
    auto loop_thread = std::this_thread::get_id();
    std::thread::id worker_thread, resumed_on;
    int v = corio::run([&]() -> corio::task<int> {
        int r = co_await corio::to_thread([&] {
            worker_thread = std::this_thread::get_id();
            return 42;
        });
        resumed_on = std::this_thread::get_id();
        co_return r;
    }());
    REQUIRE(v == 42);
    REQUIRE(worker_thread != loop_thread);
    REQUIRE(resumed_on == loop_thread);
}

TEST_CASE("to_thread forwards arguments, move-only ones included, and handles void and references") {
    corio::run([]() -> corio::task<void> {
        int sum = co_await corio::to_thread(add, 2, 40);
        REQUIRE(sum == 42);

        std::unique_ptr<int> p = co_await corio::to_thread(boxed, std::make_unique<int>(6));
        REQUIRE(*p == 7);

        int target = 0;
        co_await corio::to_thread([](int& t) { t = 5; }, std::ref(target));
        REQUIRE(target == 5);

        int& ref = co_await corio::to_thread([&]() -> int& { return target; });
        REQUIRE(&ref == &target);

        std::string s = co_await corio::to_thread([] { return std::string(1000, 'x'); });
        REQUIRE(s.size() == 1000);
    }());
}

TEST_CASE("to_thread rethrows fn's exception, type and all, on the loop thread") {
    corio::run([]() -> corio::task<void> {
        bool caught = false;
        try {
            co_await corio::to_thread([] { throw custom_error(7); });
        } catch (const custom_error& e) {
            caught = e.code == 7;
        }
        REQUIRE(caught);
        // The pool survives a throwing job.
        int v = co_await corio::to_thread([] { return 1; });
        REQUIRE(v == 1);
    }());
}

TEST_CASE("the callable is destroyed before the caller resumes") {
    struct probe {
        std::atomic<int>* destroyed;
        explicit probe(std::atomic<int>& d) : destroyed(&d) {}
        probe(probe&& o) noexcept : destroyed(std::exchange(o.destroyed, nullptr)) {}
        ~probe() {
            if (destroyed) ++*destroyed;
        }
        int operator()() const { return 1; }
    };
    std::atomic<int> destroyed{0};
    corio::run([&]() -> corio::task<void> {
        probe p(destroyed);
        co_await corio::to_thread(std::move(p));
        REQUIRE(destroyed.load() == 1);
    }());
}

TEST_CASE("the pool starts lazily with the configured number of workers") {
    corio::run([]() -> corio::task<void> {
        auto& pool = corio::event_loop::current().service<corio::thread_pool>();
        REQUIRE_FALSE(pool.started());
        pool.set_thread_count(3);
        REQUIRE(pool.thread_count() == 3);

        concurrency_probe probe;
        std::vector<corio::task<void>> jobs;
        for (int i = 0; i < 30; ++i) jobs.push_back(probe_job(&probe));
        co_await corio::gather(std::move(jobs));
        REQUIRE(pool.started());
        REQUIRE(probe.ids.size() <= 3);
        REQUIRE(probe.most.load() <= 3);
        REQUIRE(probe.most.load() >= 2); // they did run in parallel
        REQUIRE_THROWS_AS(pool.set_thread_count(1), std::logic_error);
    }());
}

TEST_CASE("set_worker_threads sets the default for pools that start later") {
    corio::set_worker_threads(1);
    concurrency_probe probe;
    corio::run([&]() -> corio::task<void> {
        REQUIRE(corio::event_loop::current().service<corio::thread_pool>().thread_count() == 1);
        std::vector<corio::task<void>> jobs;
        for (int i = 0; i < 10; ++i) jobs.push_back(probe_job(&probe));
        co_await corio::gather(std::move(jobs));
    }());
    corio::set_worker_threads(0);
    REQUIRE(probe.ids.size() == 1);
    REQUIRE(probe.most.load() == 1);
}

TEST_CASE("a running job does not block the loop") {
    std::atomic<int> ticks{0};
    corio::run([&]() -> corio::task<void> {
        auto ticker = corio::spawn([&]() -> corio::task<void> {
            for (;;) {
                co_await corio::sleep(1ms);
                ++ticks;
            }
        });
        // Finishes only once the loop has ticked while it runs (a blocked loop would hang).
        co_await corio::to_thread([&] {
            while (ticks.load() < 5) std::this_thread::sleep_for(1ms);
        });
        ticker.cancel();
    }());
    REQUIRE(ticks.load() >= 5);
}

TEST_CASE("cancelling a queued job drops it: fn never runs") {
    corio::run([]() -> corio::task<void> {
        corio::event_loop::current().service<corio::thread_pool>().set_thread_count(1);
        gate g;
        std::atomic<bool> blocker_started{false}, queued_ran{false};
        auto blocker = corio::spawn([&]() -> corio::task<int> {
            co_return co_await corio::to_thread([&] {
                blocker_started = true;
                g.wait();
                return 1;
            });
        });
        co_await until(blocker_started); // the only worker is now busy
        auto queued = corio::spawn([&]() -> corio::task<int> {
            co_return co_await corio::to_thread([&] {
                queued_ran = true;
                return 2;
            });
        });
        co_await corio::sleep(5ms); // let it queue
        queued.cancel();
        bool cancelled = false;
        try {
            co_await queued;
        } catch (const corio::cancelled_error&) {
            cancelled = true;
        }
        REQUIRE(cancelled); // seen while the worker is still blocked: at once
        g.open();
        int b = co_await blocker;
        REQUIRE(b == 1);
        co_await corio::to_thread([] {}); // the queue is FIFO: anything after `queued`...
        REQUIRE_FALSE(queued_ran.load()); // ...ran after the point where it would have
    }());
}

TEST_CASE("cancelling a running job resumes the caller at once; the job finishes, its result discarded") {
    struct result_probe {
        std::atomic<int>* destroyed;
        explicit result_probe(std::atomic<int>& d) : destroyed(&d) {}
        result_probe(result_probe&& o) noexcept : destroyed(std::exchange(o.destroyed, nullptr)) {}
        ~result_probe() {
            if (destroyed) ++*destroyed;
        }
    };
    std::atomic<int> results_destroyed{0};
    std::atomic<bool> finished{false};
    long frames = corio::detail::live_frames.load();
    corio::run([&]() -> corio::task<void> {
        gate g;
        std::atomic<bool> started{false};
        auto h = corio::spawn([&]() -> corio::task<void> {
            // The frame holding the awaiter ends while the worker still runs the job.
            result_probe r = co_await corio::to_thread([&] {
                started = true;
                g.wait();
                finished = true;
                return result_probe(results_destroyed);
            });
            (void)r;
            FAIL("not reached");
        });
        co_await until(started);
        h.cancel();
        bool cancelled = false;
        try {
            co_await h;
        } catch (const corio::cancelled_error&) {
            cancelled = true;
        }
        REQUIRE(cancelled);
        REQUIRE_FALSE(finished.load()); // still blocked: the cancellation did not wait for it
        g.open();
        co_await until(finished);
    }());
    // run() joined the pool: the job ran to the end and its result was dropped on the worker.
    REQUIRE(finished.load());
    REQUIRE(results_destroyed.load() == 1);
    REQUIRE(corio::detail::live_frames.load() == frames);
}

TEST_CASE("a task cancelled before it reaches to_thread never submits the job") {
    std::atomic<bool> ran{false};
    corio::run([&]() -> corio::task<void> {
        auto h = corio::spawn([&]() -> corio::task<void> {
            co_await corio::to_thread([&] { ran = true; });
        });
        h.cancel(); // before its first turn
        bool cancelled = false;
        try {
            co_await h;
        } catch (const corio::cancelled_error&) {
            cancelled = true;
        }
        REQUIRE(cancelled);
    }());
    REQUIRE_FALSE(ran.load());
}

TEST_CASE("wait_for around to_thread times out without waiting for the job") {
    std::atomic<bool> started{false}, done{false};
    corio::run([&]() -> corio::task<void> {
        co_await corio::to_thread([] {}); // workers up, so the job is likely running, not queued
        gate g;
        bool timed_out = false;
        try {
            co_await corio::wait_for(corio::to_thread([&] {
                                         started = true;
                                         g.wait();
                                         done = true;
                                     }),
                                     10ms);
        } catch (const corio::timeout_error&) {
            timed_out = true;
        }
        REQUIRE(timed_out);
        REQUIRE_FALSE(done.load()); // the job is still blocked: the timeout did not wait for it
        g.open();
        if (started.load()) co_await until(done); // else it was still queued, and dropped
    }());
}

TEST_CASE("loop shutdown waits for jobs still running") {
    std::atomic<bool> started{false}, done{false};
    corio::run([&]() -> corio::task<void> {
        auto h = corio::spawn([&]() -> corio::task<void> {
            co_await corio::to_thread([&] {
                started = true;
                std::this_thread::sleep_for(50ms);
                done = true;
            });
        });
        co_await until(started);
        // main returns; run() cancels h, and its shutdown joins the worker
    }());
    REQUIRE(done.load());
}

TEST_CASE("many concurrent jobs through gather give every result") {
    corio::run([]() -> corio::task<void> {
        std::vector<corio::task<int>> jobs;
        for (int i = 0; i < 500; ++i)
            jobs.push_back([](int k) -> corio::task<int> {
                co_return co_await corio::to_thread([](int x) { return x * x; }, k);
            }(i));
        std::vector<int> squares = co_await corio::gather(std::move(jobs));
        REQUIRE(squares.size() == 500);
        for (int i = 0; i < 500; ++i) REQUIRE(squares[static_cast<std::size_t>(i)] == i * i);
    }());
}

TEST_CASE("to_thread can be a gather child directly") {
    corio::run([]() -> corio::task<void> {
        auto [a, b] = co_await corio::gather(corio::to_thread(add, 1, 2), corio::to_thread(add, 3, 4));
        REQUIRE(a == 3);
        REQUIRE(b == 7);
    }());
}

TEST_CASE("cancellation racing with completion: every task ends with its value or cancelled_error") {
    // Cancels at every point of a job's life (queued, running, result on its way back)
    // and checks nothing is lost or leaked; the TSan build checks the hand-offs.
    long frames = corio::detail::live_frames.load();
    int values = 0, cancels = 0;
    corio::run([&]() -> corio::task<void> {
        for (int round = 0; round < 20; ++round) {
            std::vector<corio::task_handle<int>> hs;
            for (int i = 0; i < 50; ++i)
                hs.push_back(corio::spawn([](int k) -> corio::task<int> {
                    co_return co_await corio::to_thread(
                        [](int x) {
                            if (x % 3 == 0) std::this_thread::sleep_for(std::chrono::microseconds(x * 10));
                            return x;
                        },
                        k);
                }(i)));
            co_await corio::sleep(std::chrono::microseconds(100 * (round % 5)));
            for (int i = 0; i < 50; i += 2) hs[static_cast<std::size_t>(i)].cancel();
            for (int i = 0; i < 50; ++i) {
                try {
                    int v = co_await hs[static_cast<std::size_t>(i)];
                    REQUIRE(v == i);
                    ++values;
                } catch (const corio::cancelled_error&) {
                    REQUIRE(i % 2 == 0);
                    ++cancels;
                }
            }
        }
    }());
    REQUIRE(values + cancels == 1000);
    REQUIRE(values >= 500); // the odd ones were never cancelled
    REQUIRE(corio::detail::live_frames.load() == frames);
}

TEST_CASE("the pool is per loop: loops on two threads each get their own") {
    std::atomic<int> total{0};
    auto body = [&] {
        corio::run([&]() -> corio::task<void> {
            for (int i = 0; i < 100; ++i) total += co_await corio::to_thread([] { return 1; });
        }());
    };
    std::thread a(body), b(body);
    a.join();
    b.join();
    REQUIRE(total.load() == 200);
}

namespace {

int identity(int v) { return v; }

// Busy-waits `us` microseconds: unlike sleep_for (rounded up to the timer slack), this
// lands completions at precise points before, around and after the moment the loop and
// the workers stop polling and block.
int busy_for(int us, int v) {
    auto end = std::chrono::steady_clock::now() + std::chrono::microseconds(us);
    while (std::chrono::steady_clock::now() < end) {
    }
    return v;
}

// Jobs in a row, as a caller awaiting them one by one issues them: mostly empty ones (the
// spinning handoff both ways), every fourth one taking a duration that walks across the
// polling budget, so its result arrives while the loop polls, as it gives up, or asleep.
corio::task<long> handoff_chain(int id, int n) {
    const int span = static_cast<int>(corio::detail::spin_budget_ns / 1000) * 2 + 20;
    long sum = 0;
    for (int i = 0; i < n; ++i) {
        int v = 0;
        if (i % 4 == 3)
            v = co_await corio::to_thread(busy_for, (i * 7 + id * 13) % span, i);
        else
            v = co_await corio::to_thread(identity, i);
        sum += v;
    }
    co_return sum;
}

} // namespace

TEST_CASE("handoffs racing with the polling loop and workers: every result arrives") {
    // Nothing in the loop has a timer: a completion or post whose wake-up got lost would
    // hang here until the ctest timeout. A foreign thread posts all along, a few
    // microseconds apart, so its posts too land while the loop polls, as it stops, and
    // while it sleeps. One chain alone lets the loop poll (it does not while more jobs are
    // out than it has CPUs to spare).
    struct config {
        std::size_t workers;
        int chains;
    };
    for (config cfg : {config{1, 1}, config{2, 1}, config{4, 1}, config{2, 3}, config{4, 3}}) {
        const std::size_t workers = cfg.workers;
        const int chains = cfg.chains;
        constexpr int jobs = 2000;
        long total = 0;
        int posted = 0, received = 0;
        corio::run([&]() -> corio::task<void> {
            corio::event_loop& loop = corio::event_loop::current();
            loop.service<corio::thread_pool>().set_thread_count(workers);
            corio::event arrived;
            std::atomic<bool> stop{false};
            std::thread poster([&] {
                for (int i = 0; !stop.load(); ++i) {
                    loop.call_soon_threadsafe([&] {
                        ++received;
                        arrived.set();
                    });
                    ++posted;
                    busy_for(i * 13 % 80, 0);
                }
            });
            std::vector<corio::task<long>> tasks;
            for (int c = 0; c < chains; ++c) tasks.push_back(handoff_chain(c, jobs));
            std::vector<long> sums = co_await corio::gather(std::move(tasks));
            for (long s : sums) total += s;
            stop = true;
            poster.join(); // posting never waits for the loop
            while (received < posted) {
                arrived.clear();
                co_await arrived.wait();
            }
        }());
        CHECK(total == chains * (long{jobs} * (jobs - 1) / 2));
        CHECK(received == posted);
    }
}
