// The five cancellation situations for the awaitables that need no descriptor: sleep,
// event, lock, semaphore, queue get and put, gather, race, wait_for, an awaited task
// handle, to_thread, task_group, timeout, shield, as_completed, a generator's next(),
// condition and barrier waits, the lifo and priority queues, and queue shutdown waking
// waiters.
#define CORIO_COUNT_FRAMES 1
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "scenarios.hpp"

using namespace std::chrono_literals;
using conformance::case_base;

namespace {

// No coroutine frame outlives the loop.
struct frames_checked : case_base {
    void after_run() { REQUIRE(corio::detail::live_frames.load() == 0); }
};

struct sleep_case : frames_checked {
    std::chrono::steady_clock::time_point deadline{};
    corio::task<void> block() {
        // Far enough ahead that the canceller below is armed before it, even on a busy machine.
        deadline = std::chrono::steady_clock::now() + 100ms;
        co_return;
    }
    corio::task<void> op() {
        co_await corio::sleep_until(deadline);
        got = true;
    }
    corio::task<void> complete() { co_await corio::sleep_until(deadline + 1ms); }
    // The canceller's timer is due a nanosecond before the sleeper's, so one pass over
    // the due timers queues both, the canceller first: the sleeper has been woken but has
    // not resumed when the cancellation arrives.
    corio::task<void> cancel_after_wake(corio::task_handle<void>& h) {
        auto canceller = corio::spawn([](std::chrono::steady_clock::time_point at,
                                         corio::task_handle<void>* target) -> corio::task<void> {
            co_await corio::sleep_until(at);
            REQUIRE_FALSE(target->done());
            REQUIRE(target->cancel());
        }(deadline - 1ns, &h));
        co_await canceller;
    }
};

struct event_case : frames_checked {
    corio::event ev;
    corio::task<void> op() {
        co_await ev.wait();
        got = true;
    }
    corio::task<void> complete() {
        ev.set();
        co_return;
    }
    corio::task<void> settle() {
        ev.clear();
        co_return;
    }
};

struct lock_case : frames_checked {
    corio::lock l;
    bool blocker_holds = false;
    bool op_holds = false;
    corio::task<void> block() {
        co_await l.acquire();
        blocker_holds = true;
    }
    corio::task<void> op() {
        co_await l.acquire();
        got = true;
        op_holds = true;
    }
    corio::task<void> complete() {
        blocker_holds = false;
        l.release(); // ownership moves to the waiter
        co_return;
    }
    corio::task<void> settle() {
        if (blocker_holds) l.release();
        if (op_holds) l.release();
        blocker_holds = op_holds = false;
        co_return;
    }
    void check() {
        REQUIRE_FALSE(l.locked()); // nobody holds it, and no cancelled waiter kept it
        REQUIRE(l.try_acquire());
        l.release();
    }
};

struct semaphore_case : frames_checked {
    corio::semaphore s{1};
    int held = 0;
    corio::task<void> block() {
        co_await s.acquire();
        ++held;
    }
    corio::task<void> op() {
        co_await s.acquire();
        got = true;
        ++held;
    }
    corio::task<void> complete() {
        --held;
        s.release(); // the permit goes to the waiter
        co_return;
    }
    corio::task<void> settle() {
        for (; held > 0; --held) s.release();
        co_return;
    }
    void check() { REQUIRE(s.value() == 1); }
};

struct queue_get_case : frames_checked {
    corio::queue<int> q;
    std::vector<int> received;
    int put = 0;
    corio::task<void> op() {
        received.push_back(co_await q.get());
        got = true;
    }
    corio::task<void> complete() {
        q.put_nowait(++put); // handed straight to the waiting getter
        co_return;
    }
    corio::task<void> settle() {
        while (!q.empty()) received.push_back(q.get_nowait());
        co_return;
    }
    void check() {
        std::vector<int> expected;
        for (int i = 1; i <= put; ++i) expected.push_back(i);
        REQUIRE(received == expected); // each item exactly once, in order
    }
};

struct queue_put_case : frames_checked {
    corio::queue<int> q{1};
    std::vector<int> received;
    int put = 0;
    std::vector<int> acknowledged; // items whose put returned
    corio::task<void> block() {
        q.put_nowait(100);
        acknowledged.push_back(100);
        co_return;
    }
    corio::task<void> op() {
        int item = ++put;
        co_await q.put(item);
        got = true;
        acknowledged.push_back(item);
    }
    corio::task<void> complete() {
        received.push_back(q.get_nowait()); // room: the first putter is woken
        co_return;
    }
    corio::task<void> settle() {
        while (!q.empty()) received.push_back(q.get_nowait());
        co_return;
    }
    void check() {
        REQUIRE(received == acknowledged); // nothing lost, nothing a cancelled put sent
        REQUIRE_FALSE(q.full()); // no place left reserved for a cancelled putter
        q.put_nowait(7);
        REQUIRE(q.qsize() == 1);
    }
};

// Children of a group wait on an event; the group must cancel and await them all.
struct gather_case : frames_checked {
    corio::event ev;
    int children_done = 0;
    corio::task<int> child(int v) {
        co_await ev.wait();
        ++children_done;
        co_return v;
    }
    corio::task<void> op() {
        auto [a, b] = co_await corio::gather(child(1), child(2));
        REQUIRE(a + b == 3);
        got = true;
    }
    corio::task<void> complete() {
        ev.set();
        co_return;
    }
    corio::task<void> settle() {
        ev.clear();
        co_return;
    }
};

struct race_case : gather_case {
    corio::task<void> op() {
        auto r = co_await corio::race(child(1), [](corio::event& e) -> corio::task<int> {
            co_await corio::sleep(1h);
            co_await e.wait();
            co_return 2;
        }(ev));
        REQUIRE(r.index() == 0);
        got = true;
    }
};

struct wait_for_case : gather_case {
    corio::task<void> op() {
        int v = co_await corio::wait_for(child(5), 1h);
        REQUIRE(v == 5);
        got = true;
    }
};

// Awaiting a spawned task's handle. Cancelling the awaiter cancels the task too
// (asyncio's `await task`); after the task finished, its result stays with it.
struct task_handle_case : frames_checked {
    corio::event ev;
    std::optional<corio::task_handle<int>> inner;
    corio::task<void> block() {
        inner = corio::spawn([](corio::event& e) -> corio::task<int> {
            co_await e.wait();
            co_return 42;
        }(ev));
        co_return;
    }
    corio::task<void> op() {
        // Awaiting a task passes the awaiter's cancellation on to it (asyncio): going on
        // after a cancellation means awaiting a new task.
        if (inner->done()) co_await block();
        int v = co_await *inner;
        REQUIRE(v == 42);
        got = true;
    }
    // The task runs to its end while this one waits behind it in the ready queue, so the
    // awaiter is woken but not yet resumed when this returns.
    corio::task<void> complete() {
        ev.set();
        co_await corio::sleep(0s);
        REQUIRE(inner->done());
    }
    corio::task<void> settle() {
        ev.set();
        co_await inner->wait();
        REQUIRE(inner->done());
        // Unless cancelled along with its awaiter, the result is still there to take.
        if (!inner->cancelled()) REQUIRE(inner->result() == 42);
        inner.reset(); // its frame goes with the last handle
    }
};

// A function on the worker pool. What ran cannot be undone: its result is dropped.
// Each call takes a ticket and runs until complete() has released that ticket.
struct to_thread_case : frames_checked {
    std::mutex mu;
    std::condition_variable cv;
    int released = 0;
    int calls = 0;
    std::atomic<int> started{0}, finished{0};
    corio::task<void> op() {
        ++calls;
        int v = co_await corio::to_thread([this] {
            int ticket = ++started;
            std::unique_lock lk(mu);
            cv.wait(lk, [&] { return released >= ticket; });
            ++finished;
            return 9;
        });
        REQUIRE(v == 9);
        got = true;
    }
    // op() has been called, and every function called so far runs on a worker.
    corio::task<void> waiting() {
        while (calls == 0 || started.load() < calls) co_await corio::sleep(1ms);
    }
    void release_all() {
        {
            std::lock_guard lk(mu);
            released = started.load();
        }
        cv.notify_all();
    }
    corio::task<void> complete() {
        release_all();
        // The function returns while the loop is busy here, so its completion is queued
        // for the loop, not yet run, when the cancellation arrives.
        while (finished.load() < started.load()) std::this_thread::yield();
        std::this_thread::sleep_for(5ms);
        co_return;
    }
    corio::task<void> settle() {
        // A call still on its way to a worker (unless its task never started).
        while (started.load() < calls) co_await corio::sleep(1ms);
        release_all();
    }
    void check() {
        if (!got) return;
        REQUIRE(finished.load() >= 1);
    }
};

} // namespace

CONFORMANCE_CASE(sleep_case)
CONFORMANCE_CASE(event_case)
CONFORMANCE_CASE(lock_case)
CONFORMANCE_CASE(semaphore_case)
CONFORMANCE_CASE(queue_get_case)
CONFORMANCE_CASE(queue_put_case)
CONFORMANCE_CASE(gather_case)
CONFORMANCE_CASE(race_case)
CONFORMANCE_CASE(wait_for_case)
CONFORMANCE_CASE(task_handle_case)
CONFORMANCE_CASE(to_thread_case)

// Structured concurrency: task_group, timeout, shield and as_completed.
namespace {

// A task_group whose body and two children wait on the event. Cancelling the awaiting
// task cancels them all and waits for them before cancelled_error arrives.
struct task_group_case : gather_case {
    corio::task<void> op() {
        std::optional<corio::task_handle<int>> a, b;
        auto body = [&](corio::task_group& g) -> corio::task<void> {
            a = g.spawn(child(1));
            b = g.spawn(child(2));
            co_await ev.wait();
        };
        co_await corio::task_group::run(body);
        REQUIRE(a->result() + b->result() == 3);
        got = true;
    }
};

// The scoped form, with a deadline that does not pass: only the awaiting task's
// cancellation is in play, and it must stay cancelled_error.
struct timeout_case : gather_case {
    corio::task<void> op() {
        auto body = [this](corio::timeout_scope& s) -> corio::task<int> {
            int v = co_await child(5);
            REQUIRE_FALSE(s.expired());
            co_return v;
        };
        int v = co_await corio::timeout(1h, body);
        REQUIRE(v == 5);
        got = true;
    }
};

// Work whose tasks may outlive the awaiter that started them (shield, as_completed):
// settle() lets them all end, and check() sees none left.
struct detached_case : frames_checked {
    corio::event ev;
    int live = 0;
    struct alive {
        int& n;
        explicit alive(int& count) : n(count) { ++n; }
        ~alive() { --n; }
    };
    corio::task<int> child(int v) {
        alive a(live);
        co_await ev.wait();
        co_return v;
    }
    corio::task<void> complete() {
        ev.set();
        co_return;
    }
    corio::task<void> settle() {
        ev.set();
        while (live > 0) co_await corio::sleep(0s);
        ev.clear();
    }
    void check() { REQUIRE(live == 0); }
};

// The awaiter leaves at once when cancelled; the shielded work is not cancelled.
struct shield_case : detached_case {
    static constexpr int wake_turns = 1; // the work runs to its end and wakes the awaiter
    corio::task<void> op() {
        int v = co_await corio::shield(child(4));
        REQUIRE(v == 4);
        got = true;
    }
};

// A cancelled consumer leaves the loop; as_completed cancels the tasks still running.
struct as_completed_case : detached_case {
    corio::task<void> op() {
        std::vector<corio::task<int>> tasks;
        tasks.push_back(child(1));
        tasks.push_back(child(2));
        auto ac = corio::as_completed(std::move(tasks));
        int sum = 0;
        while (auto next = ac.next()) sum += co_await *next;
        REQUIRE(sum == 3);
        got = true;
    }
};

} // namespace

CONFORMANCE_CASE(task_group_case)
CONFORMANCE_CASE(timeout_case)
CONFORMANCE_CASE(shield_case)
CONFORMANCE_CASE(as_completed_case)

// ---- generator, condition, barrier, lifo and priority queues, queue shutdown ----

namespace {

// A generator's next() while its body waits on an event: the consumer's cancellation
// reaches the body's wait, and leaves next() as cancelled_error.
struct generator_next_case : frames_checked {
    corio::event ev;
    bool body_cleaned = false;
    static corio::generator<int> body(corio::event& e, bool& cleaned) {
        struct on_exit {
            bool& flag;
            ~on_exit() { flag = true; }
        } guard{cleaned};
        co_await e.wait();
        co_yield 1;
    }
    corio::task<void> op() {
        auto g = body(ev, body_cleaned);
        int* v = co_await g.next();
        REQUIRE(v);
        REQUIRE(*v == 1);
        got = true;
    }
    corio::task<void> complete() {
        ev.set();
        co_return;
    }
    corio::task<void> settle() {
        ev.clear();
        co_return;
    }
    void check() {
        // Every generator started was destroyed with its locals, cancelled or not.
        if (got) REQUIRE(body_cleaned);
    }
};

// condition.wait(): the lock is released while waiting and held again when the wait
// ends, whether it returned or threw.
struct condition_wait_case : frames_checked {
    corio::condition cond;
    bool lock_held_at_end = true;
    corio::task<void> op() {
        auto g = co_await cond.scoped();
        try {
            co_await cond.wait();
        } catch (const corio::cancelled_error&) {
            lock_held_at_end = lock_held_at_end && cond.locked();
            throw;
        }
        lock_held_at_end = lock_held_at_end && cond.locked();
        got = true;
    }
    corio::task<void> complete() {
        auto g = co_await cond.scoped();
        cond.notify();
    }
    void check() {
        REQUIRE(lock_held_at_end);
        REQUIRE_FALSE(cond.locked());
        REQUIRE(cond.get_lock().try_acquire());
        cond.release();
    }
};

// barrier.wait() with two parties: complete() is the second party.
struct barrier_wait_case : frames_checked {
    corio::barrier b{2};
    corio::task<void> op() {
        std::size_t index = co_await b.wait();
        REQUIRE(index == 0);
        got = true;
    }
    corio::task<void> complete() {
        std::size_t index = co_await b.wait();
        REQUIRE(index == 1);
    }
    corio::task<void> settle() {
        // A full round still works: no cancelled waiter is counted, the round drained.
        auto round = corio::gather(b.wait(), b.wait());
        auto indices = co_await corio::wait_for(std::move(round), 5s);
        REQUIRE(std::get<0>(indices) + std::get<1>(indices) == 1);
    }
    void check() {
        REQUIRE(b.n_waiting() == 0);
        REQUIRE_FALSE(b.broken());
    }
};

// queue_get_case and queue_put_case over the other orders: one item at a time, so the
// order checked is the same.
template <class Q>
struct ordered_get_case : frames_checked {
    Q q;
    std::vector<int> received;
    int put = 0;
    corio::task<void> op() {
        received.push_back(co_await q.get());
        got = true;
    }
    corio::task<void> complete() {
        q.put_nowait(++put);
        co_return;
    }
    corio::task<void> settle() {
        while (!q.empty()) received.push_back(q.get_nowait());
        co_return;
    }
    void check() {
        std::vector<int> expected;
        for (int i = 1; i <= put; ++i) expected.push_back(i);
        REQUIRE(received == expected);
    }
};

template <class Q>
struct ordered_put_case : frames_checked {
    Q q{1};
    std::vector<int> received;
    int put = 0;
    std::vector<int> acknowledged;
    corio::task<void> block() {
        q.put_nowait(100);
        acknowledged.push_back(100);
        co_return;
    }
    corio::task<void> op() {
        int item = ++put;
        co_await q.put(item);
        got = true;
        acknowledged.push_back(item);
    }
    corio::task<void> complete() {
        received.push_back(q.get_nowait());
        co_return;
    }
    corio::task<void> settle() {
        while (!q.empty()) received.push_back(q.get_nowait());
        co_return;
    }
    void check() {
        REQUIRE(received == acknowledged);
        REQUIRE_FALSE(q.full());
    }
};

using lifo_get_case = ordered_get_case<corio::lifo_queue<int>>;
using lifo_put_case = ordered_put_case<corio::lifo_queue<int>>;
using priority_get_case = ordered_get_case<corio::priority_queue<int>>;
using priority_put_case = ordered_put_case<corio::priority_queue<int>>;

// shutdown() is what completes the wait: a waiting getter wakes with queue_shut_down.
struct shutdown_getter_case : frames_checked {
    corio::queue<int> q;
    corio::task<void> op() {
        try {
            (void)co_await q.get();
        } catch (const corio::queue_shut_down&) {
            got = true;
        }
    }
    corio::task<void> complete() {
        q.shutdown();
        co_return;
    }
    void check() {
        REQUIRE(q.empty()); // a cancelled get took nothing
        if (q.is_shutdown()) REQUIRE_THROWS_AS(q.put_nowait(1), corio::queue_shut_down);
    }
};

// A putter waiting on a full queue wakes with queue_shut_down, its item not put.
struct shutdown_putter_case : frames_checked {
    corio::queue<int> q{1};
    corio::task<void> block() {
        q.put_nowait(100);
        co_return;
    }
    corio::task<void> op() {
        try {
            co_await q.put(1);
        } catch (const corio::queue_shut_down&) {
            got = true;
        }
    }
    corio::task<void> complete() {
        q.shutdown();
        co_return;
    }
    void check() {
        if (q.is_shutdown()) {
            REQUIRE(q.qsize() == 1); // only the blocker's item: the woken put added nothing
            REQUIRE(q.get_nowait() == 100);
            REQUIRE_THROWS_AS(q.get_nowait(), corio::queue_shut_down);
        } else {
            REQUIRE(q.qsize() == 1); // a cancelled put added nothing
        }
    }
};

} // namespace

CONFORMANCE_CASE(generator_next_case)
CONFORMANCE_CASE(condition_wait_case)
CONFORMANCE_CASE(barrier_wait_case)
CONFORMANCE_CASE(lifo_get_case)
CONFORMANCE_CASE(lifo_put_case)
CONFORMANCE_CASE(priority_get_case)
CONFORMANCE_CASE(priority_put_case)
CONFORMANCE_CASE(shutdown_getter_case)
CONFORMANCE_CASE(shutdown_putter_case)
