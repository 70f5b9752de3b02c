// The five cancellation situations for the awaitables that wait on a descriptor or on
// the worker pool for I/O: stream read, readexactly, readuntil, readline and drain,
// open_connection, and file reads. After each, every byte sent is read exactly once.
#define CORIO_COUNT_FRAMES 1
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <thread>

#include "helpers/file_helpers.hpp"
#include "helpers/full_backlog.hpp"
#include "helpers/net_helpers.hpp"
#include "scenarios.hpp"

using namespace std::chrono_literals;
using conformance::case_base;

namespace {

struct io_case : case_base {
    int fds_at_start = test_support::open_fd_count();
    void after_run() {
        REQUIRE(corio::detail::live_frames.load() == 0);
        REQUIRE(test_support::open_fd_count() == fds_at_start);
    }
};

// A loopback pair; op() reads from the client what complete() sends from the server side.
// The bytes arrive with the next poll, so the waiter is woken one loop turn later.
struct stream_case : io_case {
    static constexpr int wake_turns = 1;
    net_test::stream_pair pair;
    std::string sent, received;
    int chunks = 0;
    corio::task<void> block() { pair = co_await net_test::connected_pair(); }
    corio::task<void> complete() {
        std::string chunk = "chunk" + std::to_string(++chunks) + "\n";
        pair.served.write(chunk);
        sent += chunk;
        co_return;
    }
    corio::task<void> settle() {
        pair.served.write_eof();
        received += co_await pair.client.read(); // whatever a cancelled read left behind
        pair.client.close();
        pair.served.close();
        co_await pair.client.wait_closed();
        co_await pair.served.wait_closed();
        pair.srv.close();
        co_await pair.srv.wait_closed();
    }
    void check() { REQUIRE(received == sent); }
};

struct stream_read_case : stream_case {
    corio::task<void> op() {
        received += co_await pair.client.read(4096);
        got = true;
    }
};
struct stream_readexactly_case : stream_case {
    corio::task<void> op() {
        received += co_await pair.client.readexactly(7); // "chunkN\n"
        got = true;
    }
};
struct stream_readuntil_case : stream_case {
    corio::task<void> op() {
        received += co_await pair.client.readuntil("\n");
        got = true;
    }
};
struct stream_readline_case : stream_case {
    corio::task<void> op() {
        received += co_await pair.client.readline();
        got = true;
    }
};

// drain() waits while more than the high-water mark is buffered; the peer reading it all
// wakes it.
struct stream_drain_case : io_case {
    net_test::stream_pair pair;
    std::size_t sent = 0, received = 0;
    corio::task<void> block() {
        pair = co_await net_test::connected_pair();
        net_test::set_small_buffers(pair.client.native_handle());
        net_test::set_small_buffers(pair.served.native_handle());
        pair.client.set_write_buffer_limits(4096, 0);
        fill();
    }
    void fill() {
        std::string big(2u << 20, 'x');
        pair.client.write(big);
        sent += big.size();
    }
    corio::task<void> op() {
        if (pair.client.write_buffer_size() == 0) fill(); // going on: something to drain again
        co_await pair.client.drain();
        got = true;
    }
    corio::task<void> read_all() {
        while (received < sent) {
            std::string data = co_await pair.served.read(1 << 16);
            REQUIRE_FALSE(data.empty());
            received += data.size();
        }
    }
    corio::task<void> complete() { co_await read_all(); }
    // The buffer empties and the waiter is woken in the same step; checking every turn,
    // this task cancels before the drain resumes whichever way the two are queued.
    corio::task<void> cancel_after_wake(corio::task_handle<void>& h) {
        auto reader = corio::spawn(read_all());
        while (pair.client.write_buffer_size() > 0) co_await corio::sleep(0s);
        REQUIRE_FALSE(h.done());
        REQUIRE(h.cancel());
        co_await reader;
    }
    corio::task<void> settle() {
        co_await read_all();
        pair.client.close();
        pair.served.close();
        co_await pair.client.wait_closed();
        co_await pair.served.wait_closed();
        pair.srv.close();
        co_await pair.srv.wait_closed();
    }
    void check() { REQUIRE(received == sent); }
};

// Pool work queued behind a job that holds the only worker until released.
struct pool_gate {
    std::mutex mu;
    std::condition_variable cv;
    bool open = false;
    std::atomic<bool> holding{false};
    corio::task_handle<void> job;

    corio::task<void> close_gate() {
        open = false;
        holding = false;
        job = corio::spawn([](pool_gate* g) -> corio::task<void> {
            co_await corio::to_thread([g] {
                g->holding = true;
                std::unique_lock lk(g->mu);
                g->cv.wait(lk, [g] { return g->open; });
            });
        }(this));
        while (!holding) co_await corio::sleep(1ms);
    }
    // Lets the held worker go. With `let_queue_finish`, blocks the loop thread while the
    // work queued behind it runs, so that work's completion is queued for the loop, not
    // yet run, when this returns.
    void open_gate(bool let_queue_finish) {
        {
            std::lock_guard lk(mu);
            open = true;
        }
        cv.notify_all();
        if (let_queue_finish) std::this_thread::sleep_for(20ms);
    }
    corio::task<void> finish() {
        open_gate(false);
        if (job.valid()) co_await job.wait();
        job = {}; // the job's frame goes with its last handle
    }
};

// Name resolution runs on the pool, so with the pool held the connection waits in it.
struct open_connection_case : io_case {
    pool_gate gate;
    std::optional<corio::server> srv;
    std::vector<corio::stream> accepted;
    std::optional<corio::stream> client;
    int connections = 0;
    corio::task<void> block() {
        corio::get_running_loop().service<corio::thread_pool>().set_thread_count(1);
        auto handler = [this](corio::stream s) -> corio::task<void> {
            ++connections;
            (void)co_await s.read(); // until the client goes
        };
        srv = co_await corio::start_server(handler, "127.0.0.1", 0);
        co_await gate.close_gate();
    }
    corio::task<void> op() {
        client = co_await corio::open_connection("localhost", srv->addresses().at(0).port());
        got = true;
    }
    corio::task<void> waiting() {
        for (int i = 0; i < 3; ++i) co_await corio::sleep(1ms);
    }
    corio::task<void> complete() {
        gate.open_gate(true);
        co_return;
    }
    corio::task<void> settle() {
        co_await gate.finish();
        if (client) client->close();
        client.reset();
        srv->close();
        co_await srv->wait_closed();
    }
    void check() { REQUIRE(connections <= (got ? 1 : 0) + 1); }
};

// File reads go through the pool; with the pool held they wait there. On io_uring a
// regular file's reads go on the ring instead, where a cached read completes at once and
// cannot be held: these cases run on epoll there, and tests/files/test_file_ring.cpp puts
// the ring's file operation through the same five situations (a pipe read waits in the
// kernel, and a scripted port delivers completions late).
struct file_case : io_case {
    static constexpr corio::backend backend = corio::backend::epoll;
    pool_gate gate;
    std::string path, content, received;
    std::optional<corio::file> f;
    file_case() {
        char tmpl[] = "/tmp/corio_conformance_XXXXXX";
        int fd = ::mkstemp(tmpl);
        REQUIRE(fd >= 0);
        ::close(fd);
        path = tmpl;
        for (int i = 0; i < 100; ++i) content += "line " + std::to_string(i) + "\n";
        std::ofstream(path) << content;
        fds_at_start = test_support::open_fd_count();
    }
    ~file_case() { std::remove(path.c_str()); }
    corio::task<void> block() {
        corio::get_running_loop().service<corio::thread_pool>().set_thread_count(1);
        f = co_await corio::open(path, "rb");
        co_await gate.close_gate();
    }
    corio::task<void> waiting() {
        for (int i = 0; i < 3; ++i) co_await corio::sleep(1ms);
    }
    corio::task<void> complete() {
        gate.open_gate(true);
        co_return;
    }
    corio::task<void> settle() {
        co_await gate.finish();
        REQUIRE(f->tell() == received.size()); // a cancelled read leaves the position
        received += co_await f->read();
        co_await f->close();
        f.reset();
    }
    void check() { REQUIRE(received == content); }
};

struct file_read_case : file_case {
    corio::task<void> op() {
        received += co_await f->read(10);
        got = true;
    }
};
struct file_readline_case : file_case {
    corio::task<void> op() {
        received += co_await f->readline();
        got = true;
    }
};

} // namespace

CONFORMANCE_CASE(stream_read_case)
CONFORMANCE_CASE(stream_readexactly_case)
CONFORMANCE_CASE(stream_readuntil_case)
CONFORMANCE_CASE(stream_readline_case)
CONFORMANCE_CASE(stream_drain_case)
CONFORMANCE_CASE(open_connection_case)
CONFORMANCE_CASE(file_read_case)
CONFORMANCE_CASE(file_readline_case)

namespace {

// sendfile blocks while nobody reads; complete() starts a reader that takes everything.
// A cancelled sendfile has sent some prefix of the file; one that finished, all of it.
struct sendfile_case : io_case {
    static constexpr int wake_turns = 1;
    test_support::temp_dir dir{"corio_sendfile"};
    std::string content = test_support::pattern(2u << 20, 21);
    net_test::stream_pair pair;
    int fd = -1;
    std::string received;
    std::optional<corio::task_handle<void>> reader;
    corio::task<void> block() {
        corio::detail::write_whole_file(dir / "f.bin", content);
        fd = ::open((dir / "f.bin").c_str(), O_RDONLY | O_CLOEXEC);
        REQUIRE(fd >= 0);
        pair = co_await net_test::connected_pair();
        net_test::set_small_buffers(pair.client.native_handle());
        net_test::set_small_buffers(pair.served.native_handle());
    }
    corio::task<void> op() {
        std::uint64_t n = co_await pair.client.sendfile(fd);
        REQUIRE(n == content.size());
        got = true;
    }
    corio::task<void> read_all() {
        for (;;) {
            std::string data = co_await pair.served.read(1 << 16);
            if (data.empty()) break;
            received += data;
        }
    }
    corio::task<void> complete() {
        if (!reader) reader = corio::spawn(read_all());
        co_return;
    }
    corio::task<void> settle() {
        pair.client.write_eof();
        co_await complete();
        co_await *reader;
        pair.client.close();
        pair.served.close();
        co_await pair.client.wait_closed();
        co_await pair.served.wait_closed();
        pair.srv.close();
        co_await pair.srv.wait_closed();
        ::close(fd);
    }
    // Some prefix of the file (from a cancelled sendfile), then the whole file if one
    // finished.
    void check() {
        std::size_t prefix = received.size();
        if (got) {
            REQUIRE(received.size() >= content.size());
            prefix -= content.size();
            REQUIRE(received.compare(prefix, content.size(), content) == 0);
        }
        REQUIRE(prefix <= content.size());
        REQUIRE(received.compare(0, prefix, content, 0, prefix) == 0);
    }
};

// open_connection to two addresses with happy eyeballs: the first (a full backlog) stays
// pending and the second waits out a delay that never ends, so the op waits with one
// attempt connecting and one waiting for its turn. complete() makes room in the backlog;
// the first attempt's retransmitted SYN then gets through.
struct staggered_connect_case : conformance::case_base {
    static constexpr int wake_turns = 1;
    test_support::full_backlog stuck;
    int fds_at_start = test_support::open_fd_count();
    std::size_t fillers_at_start = stuck.fillers.size();
    std::optional<corio::server> live;
    std::optional<corio::stream> client;
    corio::task<void> block() {
        auto handler = [](corio::stream s) -> corio::task<void> { (void)co_await s.read(); };
        live = co_await corio::start_server(handler, "127.0.0.2", 0);
    }
    corio::task<void> op() {
        std::vector<corio::endpoint> addrs{stuck.address(), live->addresses().at(0)};
        corio::connect_options opts;
        opts.happy_eyeballs_delay = std::chrono::hours(1);
        client = co_await corio::open_connection(addrs, opts);
        REQUIRE(client->peername() == stuck.address());
        got = true;
    }
    corio::task<void> complete() {
        stuck.drain();
        co_return;
    }
    corio::task<void> settle() {
        if (client) client->close();
        client.reset();
        live->close();
        co_await live->wait_closed();
    }
    void after_run() {
        REQUIRE(corio::detail::live_frames.load() == 0);
        int closed_by_drain = static_cast<int>(fillers_at_start - stuck.fillers.size());
        REQUIRE(test_support::open_fd_count() == fds_at_start - closed_by_drain);
    }
};

} // namespace

CONFORMANCE_CASE(sendfile_case)
CONFORMANCE_CASE(staggered_connect_case)

namespace {

// A `cat` reading a stdin pipe: op() waits for it to end, complete() closes its stdin. The
// child's exit reaches the loop when the kernel says so, so the wake-up is watched for
// (the returncode appears) instead of counted in turns.
struct process_wait_case : io_case {
    std::optional<corio::process> p;
    int code = -1;
    corio::task<void> block() {
        corio::subprocess_options o;
        o.stdin_mode = corio::stdio::pipe;
        p = co_await corio::create_subprocess_exec("cat", {}, o);
    }
    corio::task<void> op() {
        code = co_await p->wait();
        got = true;
    }
    corio::task<void> complete() {
        p->stdin_pipe().close();
        co_return;
    }
    corio::task<void> cancel_after_wake(corio::task_handle<void>& h) {
        co_await complete();
        while (!p->returncode()) co_await corio::sleep(0s); // reaped: the waiter is queued
        REQUIRE_FALSE(h.done());
        REQUIRE(h.cancel());
    }
    corio::task<void> settle() {
        p->stdin_pipe().close();
        int last = co_await p->wait();
        REQUIRE(last == 0);
        REQUIRE(corio::get_running_loop().service<corio::detail::child_watcher>().live() == 0);
        p.reset();
    }
    void check() {
        REQUIRE(code == (got ? 0 : -1)); // a cancelled wait returned nothing
    }
};

} // namespace

CONFORMANCE_CASE(process_wait_case)
