// Debug mode, compiled with CORIO_DEBUG=1 (tests/CMakeLists.txt): the tree of tasks with
// where each waits, the slow-step and never-run reports, and the async stack an
// exception carries to the loop's handler. Every expectation is the exact output.
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "helpers/net_helpers.hpp"

static_assert(CORIO_DEBUG, "this test is built with -DCORIO_DEBUG=1");

using namespace std::chrono_literals;

namespace {

// Collects what debug mode reports, instead of stderr.
struct captured_reports {
    std::vector<std::string> lines;
    captured_reports() {
        corio::detail::debug().sink = [this](const std::string& l) { lines.push_back(l); };
    }
    ~captured_reports() { corio::detail::debug().sink = {}; }
};

// Lines where the functions below wait: a test compares whole lines.
corio::task<void> wait_lock(corio::lock& l) {
    co_await l.acquire(); // LOCK_LINE
    l.release();
}
constexpr unsigned lock_line = __LINE__ - 3;

corio::task<void> wait_queue(corio::queue<int>& q) {
    (void)co_await q.get();
}
constexpr unsigned queue_line = __LINE__ - 2;

corio::task<void> wait_socket(corio::stream& s) {
    (void)co_await s.read(10);
}
constexpr unsigned socket_line = __LINE__ - 2;

corio::task<void> worker(corio::lock& l, corio::queue<int>& q, corio::stream& s) {
    co_await corio::gather(wait_lock(l), wait_queue(q), wait_socket(s));
}
constexpr unsigned gather_line = __LINE__ - 2;

std::string at(unsigned line) { return "test_debug.cpp:" + std::to_string(line); }

} // namespace

TEST_CASE("debug: the tree of tasks names every task, its state and the co_await it waits in") {
    auto main_task = []() -> corio::task<void> {
        auto pair = co_await net_test::connected_pair();
        corio::lock l;
        REQUIRE(l.try_acquire());
        corio::queue<int> q;
        auto h = corio::spawn(worker(l, q, pair.served), {.name = "worker"});
        co_await corio::sleep(0s);
        co_await corio::sleep(0s);

        auto tasks = corio::all_tasks();
        REQUIRE(tasks.size() >= 2);
        REQUIRE(tasks[0].name == "main");
        REQUIRE(tasks[0].state == "running");
        bool found = false;
        for (auto& t : tasks)
            if (t.name == "worker") {
                found = true;
                REQUIRE(t.function == "worker");
                REQUIRE(t.state == "suspended");
                REQUIRE(t.where == at(gather_line));
            }
        REQUIRE(found);

        std::string tree = corio::format_tasks();
        std::string expected_worker = "\"worker\" worker (suspended at " + at(gather_line) + ")\n"
                                      "├─ wait_lock (suspended at " + at(lock_line) + ")\n"
                                      "├─ wait_queue (suspended at " + at(queue_line) + ")\n"
                                      "└─ wait_socket (suspended at " + at(socket_line) + ")\n";
        INFO(tree);
        REQUIRE(tree.find(expected_worker) != std::string::npos);
        REQUIRE(tree.rfind("\"main\" operator() (running)\n", 0) == 0);

        l.release();
        q.put_nowait(1);
        pair.client.write("0123456789");
        co_await h;
        REQUIRE(corio::format_tasks().find("worker") == std::string::npos);
    };
    corio::run(main_task());
}

namespace {

corio::task<void> never_awaited() { co_return; }
constexpr unsigned never_end_line = __LINE__ - 1; // GCC names the closing brace, clang the start: one line

corio::task<void> busy(std::chrono::milliseconds d) {
    co_await corio::sleep(0s);
    auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
    }
    co_await corio::sleep(0s);
}
constexpr unsigned busy_resume_line = __LINE__ - 6;
constexpr unsigned busy_stop_line = __LINE__ - 3;

} // namespace

TEST_CASE("debug: a task destroyed without ever running is reported with where it was made") {
    captured_reports reports;
    auto main_task = []() -> corio::task<void> {
        { auto t = never_awaited(); }
        // Cancelled before it started: asyncio does not warn about such a task, nor does corio.
        auto h = corio::spawn(never_awaited());
        h.cancel();
        co_await h.wait();
    };
    corio::run(main_task(), {.debug = true});
    REQUIRE(reports.lines.size() == 1);
    REQUIRE(reports.lines[0] == "task never_awaited created at " + at(never_end_line) +
                                    " was destroyed without ever running");
}

TEST_CASE("debug: a slow step is reported once, naming the task and where it ran") {
    captured_reports reports;
    auto& d = corio::detail::debug();
    auto saved = d.slow_step;
    d.slow_step = 20ms;
    auto main_task = []() -> corio::task<void> {
        auto h = corio::spawn(busy(60ms), {.name = "cruncher"});
        co_await h;
        co_await corio::spawn(busy(0ms), {.name = "quick"});
    };
    corio::run(main_task(), {.debug = true});
    d.slow_step = saved;
    REQUIRE(reports.lines.size() == 1);
    std::string line = reports.lines[0];
    // "slow step: task "cruncher" in busy, resumed at F:L, held the loop for N ms until F:L"
    std::string head = "slow step: task \"cruncher\" in busy, resumed at " + at(busy_resume_line) +
                       ", held the loop for ";
    std::string tail = " ms until " + at(busy_stop_line);
    INFO(line);
    REQUIRE(line.rfind(head, 0) == 0);
    REQUIRE(line.size() > head.size() + tail.size());
    REQUIRE(line.substr(line.size() - tail.size()) == tail);
    int ms = std::stoi(line.substr(head.size()));
    REQUIRE(ms >= 60);
}

namespace {

corio::task<int> innermost() {
    co_await corio::sleep(0s);
    throw std::runtime_error("deep failure");
}

corio::task<int> middle() {
    co_return co_await innermost();
}
constexpr unsigned middle_line = __LINE__ - 2;

corio::task<void> outer() {
    (void)co_await middle();
}
constexpr unsigned outer_line = __LINE__ - 2;

} // namespace

TEST_CASE("debug: an exception reaching the loop's handler carries its async stack") {
    std::string stack;
    std::string what;
    auto main_task = [&]() -> corio::task<void> {
        corio::get_running_loop().set_exception_handler([&](std::exception_ptr e) {
            stack = corio::async_stack_of(e);
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                what = ex.what();
            }
        });
        { auto h = corio::spawn(outer(), {.name = "doomed"}); } // nobody will await it
        co_await corio::sleep(10ms);
    };
    corio::run(main_task());
    REQUIRE(what == "deep failure");
    REQUIRE(stack == "  in innermost (running)\n"
                     "  in middle (suspended at " + at(middle_line) + ")\n"
                     "  in \"doomed\" outer (suspended at " + at(outer_line) + ")\n");
}
