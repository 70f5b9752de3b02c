// corio::file on a loop with a completion port (io_uring): reads, writes and fsync at
// offsets go on the ring, never on the worker pool; port_awaiter's cancellation resumes
// only once the completion has arrived; errors read as they do on the pool.
//
// The port_awaiter cases run on any backend with a scripted port; the others run on
// io_uring (run_options{.backend}) and say so when the kernel refuses it.
#define CORIO_COUNT_FRAMES 1
#include "corio_test.hpp"
#include "helpers/file_helpers.hpp"
#include "../conformance/scenarios.hpp"

#include <corio/detail/port_awaiter.hpp>
#include <corio/file.hpp>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

using namespace std::chrono_literals;
using conformance::case_base;
using corio::detail::port_awaiter;

namespace {

struct temp_dir : test_support::temp_dir {
    temp_dir() : test_support::temp_dir("corio_test_file_ring") {}
};
using test_support::cancelled_at;
using test_support::pattern;

void spit(const std::string& path, const std::string& data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << data;
}
std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Runs main on a loop that asked for io_uring; false (and a visible warning) when the
// kernel refused it and the loop fell back to epoll.
template <class Main>
bool run_on_ring(Main main) {
    bool ring = false;
    corio::run(
        [&]() -> corio::task<void> {
            ring = corio::event_loop::current().backend() == corio::backend::io_uring;
            if (ring) co_await main();
        }(),
        corio::run_options{.backend = corio::backend::io_uring});
    if (!ring) WARN("io_uring is unavailable here: this io_uring test was skipped");
    return ring;
}

// A completion port whose completions the test delivers: what the kernel would do, in an
// order the test chooses. A cancel() completes the operation with -ECANCELED three loop
// turns later, as a slow kernel's cancellation might: an awaiter that resumed on the
// cancellation instead of the completion would be seen running meanwhile.
struct scripted_port final : corio::detail::completion_port {
    struct request {
        corio::detail::port_op* op;
        char* buf;
        std::size_t n;
        std::uint64_t offset;
    };
    std::vector<request> submitted;
    corio::detail::port_op* in_flight = nullptr;
    int cancels = 0;

    void deliver(int result) {
        REQUIRE(in_flight);
        corio::detail::port_op* op = std::exchange(in_flight, nullptr);
        op->complete(op, result);
    }

    void arm(corio::detail::io_state&, corio::detail::multishot, corio::detail::multishot_sink&) override {}
    void pause(corio::detail::io_state&) noexcept override {}
    void connect(int fd, const void* addr, unsigned len, corio::detail::port_op& op) override {
        read_at(fd, static_cast<char*>(const_cast<void*>(addr)), len, 0, op);
    }
    void send(corio::detail::io_state&, const char*, std::size_t, corio::detail::port_op&) override {}
    void read_at(int, char* buf, std::size_t n, std::uint64_t offset, corio::detail::port_op& op) override {
        REQUIRE_FALSE(in_flight);
        in_flight = &op;
        submitted.push_back({&op, buf, n, offset});
    }
    void write_at(int fd, const char* buf, std::size_t n, std::uint64_t offset, corio::detail::port_op& op) override {
        read_at(fd, const_cast<char*>(buf), n, offset, op);
    }
    void fsync(int fd, bool, corio::detail::port_op& op) override { read_at(fd, nullptr, 0, 0, op); }
    void cancel(corio::detail::port_op& op) noexcept override {
        ++cancels;
        complete_later(&op, 3);
    }
    void complete_later(corio::detail::port_op* p, int turns) {
        corio::event_loop::current().call_soon([this, p, turns] {
            if (turns > 0) complete_later(p, turns - 1);
            else if (in_flight == p) deliver(-ECANCELED);
        });
    }
};

// port_awaiter through the five situations, with a port the test drives: the awaiting task
// must never resume while its operation is still with the port.
struct port_awaiter_case : case_base {
    scripted_port port;
    char buf[8] = {};
    bool resumed_in_flight = false;
    corio::task<void> op() {
        try {
            port_awaiter::result r = co_await port_awaiter(port, port_awaiter::kind::read, 0, buf, 1, 42);
            REQUIRE(r.done == 1);
            got = true;
        } catch (const corio::cancelled_error&) {
            resumed_in_flight = resumed_in_flight || port.in_flight;
            throw;
        }
        resumed_in_flight = resumed_in_flight || port.in_flight;
    }
    corio::task<void> complete() {
        port.deliver(1);
        co_return;
    }
    void check() {
        REQUIRE_FALSE(resumed_in_flight);
        REQUIRE_FALSE(port.in_flight);
        for (const auto& r : port.submitted) REQUIRE(r.offset == 42);
    }
    void after_run() { REQUIRE(corio::detail::live_frames.load() == 0); }
};

// The same with io_uring itself: a read of an empty pipe waits in the kernel until a byte
// is written. settle() writes a marker and lets the loop turn: a read the cancellation
// failed to stop would take it, so check() finds it still in the pipe.
struct ring_pipe_case : case_base {
    static constexpr int wake_turns = 1;
    int fds[2] = {-1, -1};
    char buf[8] = {};
    std::string left;
    corio::task<void> block() {
        REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
        co_return;
    }
    corio::task<void> op() {
        port_awaiter::result r =
            co_await port_awaiter(*corio::event_loop::current().completions(), port_awaiter::kind::read, fds[0], buf, 1, 0);
        REQUIRE(r.error == 0);
        REQUIRE(r.done == 1);
        REQUIRE(buf[0] == 'x');
        got = true;
    }
    corio::task<void> complete() {
        REQUIRE(::write(fds[1], "x", 1) == 1);
        co_return;
    }
    corio::task<void> settle() {
        REQUIRE(::write(fds[1], "M", 1) == 1);
        for (int i = 0; i < 3; ++i) co_await corio::sleep(0s);
        ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
        char tmp[16];
        ssize_t n = ::read(fds[0], tmp, sizeof tmp);
        if (n > 0) left.assign(tmp, static_cast<std::size_t>(n));
    }
    void check() { REQUIRE(left == "M"); }
    ~ring_pipe_case() {
        for (int fd : fds)
            if (fd >= 0) ::close(fd);
    }
};

template <class Case, class Scenario>
void run_ring_scenario(Scenario scenario) {
    Case c;
    if (run_on_ring([&]() -> corio::task<void> { co_await scenario(c); })) c.after_run();
}

} // namespace

CONFORMANCE_CASE(port_awaiter_case)

TEST_CASE("a read on the ring through the five cancellation situations") {
    using namespace conformance;
    SECTION("cancel before start") {
        run_ring_scenario<ring_pipe_case>([](ring_pipe_case& c) { return cancel_before_start(c); });
    }
    SECTION("cancel while waiting") {
        run_ring_scenario<ring_pipe_case>([](ring_pipe_case& c) { return cancel_while_waiting(c); });
    }
    SECTION("cancel after wake-up, before resume") {
        run_ring_scenario<ring_pipe_case>([](ring_pipe_case& c) { return cancel_after_wake(c); });
    }
    SECTION("double cancel") {
        run_ring_scenario<ring_pipe_case>([](ring_pipe_case& c) { return double_cancel(c); });
    }
    SECTION("cancel, catch and go on") {
        run_ring_scenario<ring_pipe_case>([](ring_pipe_case& c) { return cancel_then_go_on(c); });
    }
}

TEST_CASE("port_awaiter continues a short transfer, retries EINTR and reports an error with what was done") {
    corio::run([]() -> corio::task<void> {
        scripted_port port;
        char buf[10] = {};
        std::optional<port_awaiter::result> out;
        auto body = [&]() -> corio::task<void> {
            out = co_await port_awaiter(port, port_awaiter::kind::write, 3, buf, 10, 100);
        };
        auto h = corio::spawn(body());
        co_await corio::sleep(0s);
        REQUIRE(port.submitted.size() == 1);
        port.deliver(4);
        REQUIRE(port.submitted.size() == 2); // the rest, at once, where the first part ended
        REQUIRE(port.submitted[1].buf == buf + 4);
        REQUIRE(port.submitted[1].n == 6);
        REQUIRE(port.submitted[1].offset == 104);
        port.deliver(-EINTR);
        REQUIRE(port.submitted.size() == 3);
        REQUIRE(port.submitted[2].offset == 104);
        port.deliver(-ENOSPC);
        co_await h;
        REQUIRE(out);
        REQUIRE(out->done == 4);
        REQUIRE(out->error == ENOSPC);

        // A read stops at end of file (0) with what it has.
        out.reset();
        auto body2 = [&]() -> corio::task<void> {
            out = co_await port_awaiter(port, port_awaiter::kind::read, 3, buf, 10, 0);
        };
        auto h2 = corio::spawn(body2());
        co_await corio::sleep(0s);
        port.deliver(7);
        port.deliver(0);
        co_await h2;
        REQUIRE(out->done == 7);
        REQUIRE(out->error == 0);
    }());
}

TEST_CASE("port_awaiter cancelled between the parts of a short transfer submits no more") {
    corio::run([]() -> corio::task<void> {
        scripted_port port;
        char buf[10] = {};
        bool cancelled = false;
        auto body = [&]() -> corio::task<void> {
            try {
                (void)co_await port_awaiter(port, port_awaiter::kind::read, 3, buf, 10, 0);
            } catch (const corio::cancelled_error&) {
                cancelled = true;
                REQUIRE_FALSE(port.in_flight);
            }
        };
        auto h = corio::spawn(body());
        co_await corio::sleep(0s);
        h.cancel();
        REQUIRE(port.cancels == 1);
        port.deliver(3); // the kernel finished part of it before the cancellation reached it
        for (int i = 0; i < 5; ++i) co_await corio::sleep(0s); // the port's late -ECANCELED finds nothing
        REQUIRE(port.submitted.size() == 1);
        co_await h;
        REQUIRE(cancelled);
    }());
}

namespace {

// Every kind of read and write at offsets, and fsync; returns how many jobs the worker
// pool was given meanwhile (open and close, before and after, are the pool's).
corio::task<std::size_t> exercise_file(std::string path, std::string data) {
    corio::thread_pool& pool = corio::event_loop::current().service<corio::thread_pool>();
    corio::file f = co_await corio::open(path, "w+b");
    std::size_t before = pool.jobs_submitted();
    co_await f.write(data.substr(0, 1000));        // buffered
    co_await f.write(data.substr(1000, 200000));   // flushes the buffer, then writes directly
    co_await f.write(data.substr(201000, 50000));  // buffered
    co_await f.write(data.substr(251000));         // flush, direct
    co_await f.sync();
    co_await f.seek(0);
    std::string got = co_await f.read(10);    // fills the read buffer
    got += co_await f.readline();             // from the buffer, refilling it
    got += co_await f.read(300000);           // the buffered rest, then directly
    for (;;) {                                // sequential chunks (the pool reads them ahead)
        std::string part = co_await f.read(262144);
        if (part.empty()) break;
        got += part;
    }
    REQUIRE(got == data);
    co_await f.seek(7);
    std::string buf(100000, '\0');
    std::size_t n = co_await f.readinto(buf);
    REQUIRE(n == 100000);
    REQUIRE(buf == data.substr(7, 100000));
    co_await f.write("tail");
    co_await f.flush();
    std::size_t jobs = pool.jobs_submitted() - before;
    co_await f.close();
    REQUIRE(slurp(path) == data.substr(0, 100007) + "tail" + data.substr(100011));
    co_return jobs;
}

} // namespace

TEST_CASE("on io_uring, reads, writes and fsync at offsets never use the worker pool") {
    temp_dir dir;
    std::string data = pattern(1'500'000, 21);
    std::size_t ring_jobs = 0, epoll_jobs = 0;
    bool ring = run_on_ring([&]() -> corio::task<void> { ring_jobs = co_await exercise_file(dir / "ring", data); });
    corio::run([&]() -> corio::task<void> {
        REQUIRE(corio::event_loop::current().completions() == nullptr);
        epoll_jobs = co_await exercise_file(dir / "epoll", data);
    }(), corio::run_options{.backend = corio::backend::epoll});
    REQUIRE(epoll_jobs > 10); // the count sees the pool's work where there is some
    if (ring) REQUIRE(ring_jobs == 0);
}


TEST_CASE("a file read or write cancelled on the ring leaves the file object as the pool does") {
    temp_dir dir;
    std::string path = dir / "cancel";
    std::string data = pattern(2'000'000, 22);
    std::replace(data.begin(), data.end(), '\n', 'x'); // readline must go past the buffer
    spit(path, data);
    for (int turns = 0; turns <= 2; ++turns) {
        INFO("cancelled after " << turns << " turns");
        run_on_ring([&]() -> corio::task<void> {
            corio::file f = co_await corio::open(path, "r+b");
            std::string head = co_await f.read(10);
            REQUIRE(head == data.substr(0, 10));
            bool c1 = co_await cancelled_at(f.read(70000), turns);  // a refill of the buffer
            bool c2 = co_await cancelled_at(f.read(300000), turns); // buffered part + direct
            std::string into(400000, '\0');
            bool c3 = co_await cancelled_at(f.readinto(into), turns);
            bool c4 = co_await cancelled_at(f.readline(), turns);
            REQUIRE(c1);
            REQUIRE(c2);
            REQUIRE(c3);
            REQUIRE(c4);
            REQUIRE(f.tell() == 10);
            std::string next = co_await f.read(300000);
            REQUIRE(next == data.substr(10, 300000));

            // A direct write: the position does not advance, the file object goes on.
            std::string big(200000, 'W');
            bool c5 = co_await cancelled_at(f.write(big), turns);
            REQUIRE(c5);
            REQUIRE(f.tell() == 300010);
            // A flush: the buffered bytes stay, to be written at the same offset.
            co_await f.write("buffered");
            bool c6 = co_await cancelled_at(f.flush(), turns);
            REQUIRE(c6);
            REQUIRE(f.tell() == 300018);
            bool c7 = co_await cancelled_at(f.sync(), turns);
            REQUIRE(c7);
            co_await f.close();
        });
        std::string now = slurp(path);
        REQUIRE(now.size() == data.size());
        REQUIRE(now.substr(300010, 8) == "buffered");
        REQUIRE(now.substr(0, 300010) == data.substr(0, 300010));
        // the cancelled direct write may or may not have reached the file
        spit(path, data);
    }
}

TEST_CASE("a file read cancelled twice on the ring throws once and the read goes on") {
    temp_dir dir;
    std::string path = dir / "twice";
    std::string data = pattern(1'000'000, 23);
    spit(path, data);
    run_on_ring([&]() -> corio::task<void> {
        corio::file f = co_await corio::open(path, "rb");
        int caught = 0;
        std::string got;
        auto body = [&]() -> corio::task<void> {
            try {
                got = co_await f.read(300000);
            } catch (const corio::cancelled_error&) {
                ++caught;
            }
            got = co_await f.read(300000);
        };
        auto h = corio::spawn(body());
        co_await corio::sleep(0s);
        h.cancel();
        h.cancel();
        co_await h;
        REQUIRE(caught == 1);
        REQUIRE(got == data.substr(0, 300000));
        REQUIRE(f.tell() == 300000);
        co_await f.close();
    });
}

namespace {

// What reading a file that shrinks under the reader gives: the chunks' sizes and bytes,
// then the error, if any.
corio::task<std::string> read_while_truncated(std::string path) {
    corio::file f = co_await corio::open(path, "rb");
    std::string log;
    std::string head = co_await f.read(100); // the buffer holds 64 KiB of the old file
    log += std::to_string(head.size()) + ";";
    REQUIRE(::truncate(path.c_str(), 100000) == 0);
    std::string part = co_await f.read(300000); // the buffered part, and what is left
    log += std::to_string(part.size()) + ";";
    REQUIRE(::truncate(path.c_str(), 50000) == 0);
    part = co_await f.read(300000); // past the end now
    log += std::to_string(part.size()) + ";";
    co_await f.seek(40000);
    part = co_await f.read();
    log += std::to_string(part.size()) + ";" + part.substr(0, 16) + ";";
    std::string buf(262144, '\0');
    std::size_t n = co_await f.readinto(buf);
    log += std::to_string(n) + ";";
    co_await f.close();
    co_return log;
}

} // namespace

TEST_CASE("a file truncated while it is read gives the same reads on the ring as on the pool") {
    temp_dir dir;
    std::string data = pattern(1'000'000, 24);
    std::string on_ring, on_pool;
    spit(dir / "ring", data);
    spit(dir / "pool", data);
    bool ring = run_on_ring([&]() -> corio::task<void> { on_ring = co_await read_while_truncated(dir / "ring"); });
    corio::run([&]() -> corio::task<void> { on_pool = co_await read_while_truncated(dir / "pool"); }(),
               corio::run_options{.backend = corio::backend::epoll});
    REQUIRE(on_pool == "100;99900;0;10000;" + data.substr(40000, 16) + ";0;");
    if (ring) REQUIRE(on_ring == on_pool);
}

namespace {

struct error_seen {
    int code = 0;
    std::string what;
    bool write_error = false;
    std::size_t written = 0;
    bool operator==(const error_seen&) const = default;
};

// Puts `other` (a directory, or a file open the wrong way) under the file object's
// descriptor, so the system call fails in the kernel, not in corio's own checks.
corio::task<std::vector<error_seen>> errors_from_kernel(std::string dir_path, std::string file_path) {
    std::vector<error_seen> seen;
    auto record = [&](const std::system_error& e) {
        error_seen s{e.code().value(), e.what()};
        if (auto* w = dynamic_cast<const corio::file_write_error*>(&e)) {
            s.write_error = true;
            s.written = w->bytes_written();
        }
        seen.push_back(s);
    };
    {
        corio::file f = co_await corio::open(file_path, "r+b");
        int d = ::open(dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        REQUIRE(::dup2(d, f.native_handle()) == f.native_handle());
        ::close(d);
        try {
            (void)co_await f.read(10);
        } catch (const std::system_error& e) {
            record(e);
        }
        try {
            (void)co_await f.read(300000);
        } catch (const std::system_error& e) {
            record(e);
        }
        co_await f.close();
    }
    {
        corio::file f = co_await corio::open(file_path, "r+b");
        int w = ::open(file_path.c_str(), O_WRONLY | O_CLOEXEC);
        REQUIRE(::dup2(w, f.native_handle()) == f.native_handle());
        ::close(w);
        try {
            (void)co_await f.read(10);
        } catch (const std::system_error& e) {
            record(e);
        }
        int r = ::open(file_path.c_str(), O_RDONLY | O_CLOEXEC);
        REQUIRE(::dup2(r, f.native_handle()) == f.native_handle());
        ::close(r);
        try {
            co_await f.write(std::string(200000, 'x')); // direct
        } catch (const std::system_error& e) {
            record(e);
        }
        co_await f.write("small");
        try {
            co_await f.flush();
        } catch (const std::system_error& e) {
            record(e);
        }
        try {
            co_await f.close();
        } catch (const std::system_error& e) {
            record(e); // the flush close retries (the bytes are still buffered)
        }
    }
    co_return seen;
}

} // namespace

TEST_CASE("EISDIR and EBADF from the kernel read the same on the ring as on the pool") {
    temp_dir dir;
    std::string path = dir / "victim";
    spit(path, pattern(400000, 25));
    std::vector<error_seen> on_ring, on_pool;
    bool ring = run_on_ring([&]() -> corio::task<void> { on_ring = co_await errors_from_kernel(dir.path.string(), path); });
    corio::run([&]() -> corio::task<void> { on_pool = co_await errors_from_kernel(dir.path.string(), path); }(),
               corio::run_options{.backend = corio::backend::epoll});
    REQUIRE(on_pool.size() == 6);
    REQUIRE(on_pool[0].code == EISDIR);
    REQUIRE(on_pool[0].what == "read '" + path + "': " + std::strerror(EISDIR));
    REQUIRE(on_pool[1].code == EISDIR);
    REQUIRE(on_pool[2].code == EBADF);
    REQUIRE(on_pool[3].write_error);
    REQUIRE(on_pool[3].code == EBADF);
    REQUIRE(on_pool[4].write_error);
    if (ring) {
        REQUIRE(on_ring.size() == on_pool.size());
        for (std::size_t i = 0; i < on_pool.size(); ++i) {
            INFO("error " << i << ": " << on_ring[i].what << " / " << on_pool[i].what);
            REQUIRE(on_ring[i] == on_pool[i]);
        }
    }
}

namespace {

corio::task<void> read_and_write_forever(std::string path) {
    corio::file f = co_await corio::open(path, "r+b");
    for (;;) {
        std::string s = co_await f.read(1 << 20);
        if (s.empty()) co_await f.seek(0);
        co_await f.write(std::string(100000, 'z'));
    }
}

} // namespace

TEST_CASE("loop shutdown with file reads and writes in flight on the ring ends them cleanly") {
    temp_dir dir;
    std::string path = dir / "shutdown";
    spit(path, pattern(4'000'000, 26));
    long frames = corio::detail::live_frames.load();
    run_on_ring([&]() -> corio::task<void> {
        std::vector<corio::task_handle<void>> running;
        for (int i = 0; i < 4; ++i) running.push_back(corio::spawn(read_and_write_forever(path)));
        for (int i = 0; i < 20; ++i) co_await corio::sleep(0s);
        for (auto& h : running) REQUIRE_FALSE(h.done());
    });
    REQUIRE(corio::detail::live_frames.load() == frames);
}
