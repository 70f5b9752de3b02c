// Objects of one loop awaited from another loop's thread: two threads each run
// corio::run; loop A makes streams and a task, loop B awaits them. Every such wait must
// fail at once with a logic_error naming the object and both loops (it would otherwise
// be resumed on A's thread, racing with B), and A's objects must still work afterwards.
// call_soon_threadsafe, the supported way across, carries the results back. Built with
// the pool label so the tsan preset runs it: the hand-over itself must be race-free.
#include "corio_test.hpp"

#include <future>
#include <string>
#include <thread>
#include <vector>

#include <corio/net.hpp>

#include "helpers/net_helpers.hpp"

using corio::task;

namespace {

// What loop A hands to loop B. B touches these objects only between receiving them and
// posting `done` back, while A's tasks leave them alone.
struct handoff {
    corio::event_loop* loop_a = nullptr;
    std::uint64_t id_a = 0;
    corio::stream* idle = nullptr;    // nothing to read: a read would wait
    corio::stream* clogged = nullptr; // write buffer above the high-water mark: drain waits
    corio::task_handle<int>* running = nullptr;
    corio::event* done = nullptr; // on A: set through call_soon_threadsafe
};

struct verdicts {
    std::uint64_t id_b = 0;
    std::vector<std::string> messages; // one per refused wait, in the order tried
    int refused = 0;
};

template <class Awaitable>
task<void> expect_refused(Awaitable work, verdicts& v) {
    try {
        co_await std::move(work);
        v.messages.push_back("completed");
    } catch (const std::logic_error& e) {
        ++v.refused;
        v.messages.push_back(e.what());
    } catch (const std::exception& e) {
        v.messages.push_back(std::string("other error: ") + e.what());
    }
}

task<void> loop_b(handoff h, verdicts& v) {
    v.id_b = corio::get_running_loop().id();
    co_await expect_refused(h.idle->read(10), v);
    co_await expect_refused(h.idle->readline(), v);
    co_await expect_refused(h.idle->readexactly(3), v);
    co_await expect_refused(h.clogged->drain(), v);
    co_await expect_refused(h.idle->wait_closed(), v);
    co_await expect_refused(*h.running, v);
    co_await expect_refused(h.running->wait(), v);
    corio::event* done = h.done;
    h.loop_a->call_soon_threadsafe([done] { done->set(); });
}

task<int> parked_until(corio::event& release) {
    co_await release.wait();
    co_return 42;
}

task<void> loop_a(std::promise<handoff>& to_b) {
    auto idle = co_await net_test::connected_pair();
    auto clogged = co_await net_test::connected_pair();
    net_test::set_small_buffers(clogged.client.native_handle());
    net_test::set_small_buffers(clogged.served.native_handle());
    const std::string big(4u << 20, 'x'); // far beyond both socket buffers: most stays queued
    clogged.client.write(big);
    REQUIRE(clogged.client.write_buffer_size() > 64 * 1024);

    corio::event release, done;
    auto running = corio::spawn(parked_until(release));
    co_await corio::sleep(std::chrono::milliseconds(0)); // let it start and park
    handoff h{&corio::get_running_loop(), corio::get_running_loop().id(), &idle.client, &clogged.client,
              &running, &done};
    to_b.set_value(h);
    co_await done.wait();

    // Untouched by B's attempts: the streams and the task carry on.
    idle.served.write("still here\n");
    REQUIRE_AWAIT_EQ(idle.client.readline(), "still here\n");
    std::size_t got = 0;
    while (got < big.size()) {
        std::string d = co_await clogged.served.read(1 << 20);
        REQUIRE_FALSE(d.empty());
        REQUIRE(d.find_first_not_of('x') == std::string::npos);
        got += d.size();
    }
    co_await clogged.client.drain();
    REQUIRE(clogged.client.write_buffer_size() == 0);
    release.set();
    REQUIRE_AWAIT_EQ(running, 42);
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

} // namespace

TEST_CASE("a stream or task_handle awaited from another loop's thread is refused, naming both loops") {
    std::promise<handoff> to_b;
    std::future<handoff> from_a = to_b.get_future();
    verdicts v;
    std::thread b([&] {
        handoff h = from_a.get();
        corio::run(loop_b(h, v));
    });
    std::uint64_t id_a = 0;
    try {
        corio::run([](std::promise<handoff>& p, std::uint64_t& id) -> task<void> {
            id = corio::get_running_loop().id();
            co_await loop_a(p);
        }(to_b, id_a));
    } catch (...) {
        b.join();
        throw;
    }
    b.join();

    std::string all;
    for (auto& m : v.messages) all += m + "\n";
    INFO(all);
    REQUIRE(v.messages.size() == 7);
    REQUIRE(v.refused == 7);
    REQUIRE(v.id_b != id_a);
    const std::string mine = "event loop #" + std::to_string(id_a) + " ";
    const std::string theirs = "event loop #" + std::to_string(v.id_b) + " ";
    for (std::size_t i = 0; i < v.messages.size(); ++i) {
        const std::string& m = v.messages[i];
        INFO(m);
        REQUIRE(contains(m, i < 5 ? "corio: stream (fd " : "corio: task_handle belongs to "));
        REQUIRE(contains(m, "belongs to " + mine));
        REQUIRE(contains(m, "from a task on " + theirs));
        REQUIRE(contains(m, "call_soon_threadsafe"));
    }
}

TEST_CASE("loops are numbered and know their thread") {
    std::uint64_t first = 0, second = 0;
    corio::run([](std::uint64_t& id) -> task<void> {
        id = corio::get_running_loop().id();
        co_return;
    }(first));
    corio::run([](std::uint64_t& id) -> task<void> {
        id = corio::get_running_loop().id();
        REQUIRE(corio::get_running_loop().thread_id() != 0);
        co_return;
    }(second));
    REQUIRE(first > 0);
    REQUIRE(second > first);
}
