#define CORIO_COUNT_FRAMES 1
#include "corio_test.hpp"
#include "helpers/file_helpers.hpp"
#include "helpers/fd_count.hpp"

#include <corio/file.hpp>

#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// co_await stays out of REQUIRE (Catch evaluates its argument in contexts where co_await
// is not allowed), and lambdas inside co_await expressions capture by reference only
// (GCC 12 destroys closure temporaries with non-trivial captures twice there).

namespace {

struct temp_dir : test_support::temp_dir {
    temp_dir() : test_support::temp_dir("corio_test_file") {}
};

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void spit(const std::string& path, const std::string& data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << data;
}

using test_support::open_fd_count;

using test_support::cancelled_at;
using test_support::pattern;

using test_support::error_of;

template <class Awaitable>
corio::task<std::optional<std::system_error>> system_error_of(Awaitable work) {
    return error_of<std::system_error>(std::move(work));
}

corio::task<void> open_and_close(std::string path, std::string mode) {
    corio::file f = co_await corio::open(path, mode);
    co_await f.close();
}

corio::task<std::string> read_all(std::string path, std::string mode = "rb") {
    corio::file f = co_await corio::open(path, mode);
    std::string s = co_await f.read();
    co_await f.close();
    co_return s;
}

// Blocks the pool's only worker until released, so later jobs stay queued.
struct worker_blocker {
    std::mutex mu;
    std::condition_variable cv;
    bool open = false;
    std::atomic<bool> started{false};
    corio::task_handle<void> job;

    corio::task<void> start() {
        job = corio::spawn([this]() -> corio::task<void> {
            co_await corio::to_thread([this] {
                started = true;
                std::unique_lock lk(mu);
                cv.wait(lk, [this] { return open; });
            });
        });
        while (!started.load()) co_await corio::sleep(1ms);
    }
    corio::task<void> release() {
        {
            std::lock_guard lk(mu);
            open = true;
        }
        cv.notify_all();
        co_await job;
    }
};


} // namespace

TEST_CASE("write then read back: the meoooow round trip") {
    temp_dir dir;
    std::string path = dir / "meo.txt";
    corio::run([&]() -> corio::task<void> {
        corio::file f = co_await corio::open(path, "w");
        REQUIRE(f.is_open());
        REQUIRE(f.path() == path);
        REQUIRE(f.mode() == "w");
        std::size_t n = co_await f.write("meoooow");
        REQUIRE(n == 7);
        REQUIRE(f.tell() == 7);
        co_await f.close();
        REQUIRE_FALSE(f.is_open());

        corio::file g = co_await corio::open(path); // "r" by default
        std::string s = co_await g.read();
        REQUIRE(s == "meoooow");
        std::string more = co_await g.read();
        REQUIRE(more.empty()); // at EOF
        co_await g.close();
    }());
    REQUIRE(slurp(path) == "meoooow");
}

TEST_CASE("each mode opens, creates, truncates and positions as Python's open does") {
    temp_dir dir;
    std::string path = dir / "modes.txt";
    for (std::string suffix : {"", "b", "t"}) {
        INFO("suffix '" << suffix << "'");
        spit(path, "hello\n");
        corio::run([&]() -> corio::task<void> {
            // r: reads, does not write, keeps the content
            {
                corio::file f = co_await corio::open(path, "r" + suffix);
                REQUIRE(f.readable());
                REQUIRE_FALSE(f.writable());
                std::string s = co_await f.read();
                REQUIRE(s == "hello\n");
                auto e = co_await system_error_of(f.write("x"));
                REQUIRE(e);
                REQUIRE(e->code().value() == EBADF);
                REQUIRE(std::string(e->what()).find(path) != std::string::npos);
                co_await f.close();
            }
            // r+: reads and writes in place, no truncation
            {
                corio::file f = co_await corio::open(path, "r+" + suffix);
                std::string first = co_await f.read(2);
                REQUIRE(first == "he");
                co_await f.write("LL");
                std::string rest = co_await f.read();
                REQUIRE(rest == "o\n");
                co_await f.close();
                REQUIRE(slurp(path) == "heLLo\n");
            }
            // a: writes go to the end, position starts at the end
            {
                corio::file f = co_await corio::open(path, "a" + suffix);
                REQUIRE(f.tell() == 6);
                REQUIRE_FALSE(f.readable());
                co_await f.write("more\n");
                REQUIRE(f.tell() == 11);
                auto e = co_await system_error_of(f.read(1));
                REQUIRE(e);
                REQUIRE(e->code().value() == EBADF);
                co_await f.close();
                REQUIRE(slurp(path) == "heLLo\nmore\n");
            }
            // a+: reads anywhere, writes still append
            {
                corio::file f = co_await corio::open(path, "a+" + suffix);
                REQUIRE(f.tell() == 11);
                co_await f.seek(0);
                std::string line = co_await f.readline();
                REQUIRE(line == "heLLo\n");
                co_await f.write("end");
                co_await f.flush(); // the end is known once the data is written
                REQUIRE(f.tell() == 14);
                co_await f.seek(0);
                std::string all = co_await f.read();
                REQUIRE(all == "heLLo\nmore\nend");
                co_await f.close();
            }
            // w: truncates, write only
            {
                corio::file f = co_await corio::open(path, "w" + suffix);
                REQUIRE(f.writable());
                REQUIRE_FALSE(f.readable());
                std::uint64_t size = co_await f.size();
                REQUIRE(size == 0);
                co_await f.write("new");
                co_await f.close();
                REQUIRE(slurp(path) == "new");
            }
            // w+: truncates, reads back what it wrote
            {
                corio::file f = co_await corio::open(path, "w+" + suffix);
                co_await f.write("abc");
                co_await f.seek(0);
                std::string s = co_await f.read();
                REQUIRE(s == "abc");
                co_await f.close();
            }
            // x: creates, fails if the file exists
            {
                auto e = co_await system_error_of(open_and_close(path, "x" + suffix));
                REQUIRE(e);
                REQUIRE(e->code() == std::errc::file_exists);
                REQUIRE(std::string(e->what()).find(path) != std::string::npos);
                std::string fresh = dir / ("fresh" + suffix);
                corio::file f = co_await corio::open(fresh, "x" + suffix);
                co_await f.write("x");
                co_await f.close();
                REQUIRE(slurp(fresh) == "x");
                std::string fresh2 = dir / ("fresh2" + suffix);
                corio::file g = co_await corio::open(fresh2, "x+" + suffix);
                co_await g.write("xy");
                co_await g.seek(0);
                std::string back = co_await g.read();
                REQUIRE(back == "xy");
                co_await g.close();
            }
            // w and a create missing files
            {
                std::string created = dir / ("created" + suffix);
                co_await open_and_close(created, "w" + suffix);
                REQUIRE(fs::exists(created));
                std::string appended = dir / ("appended" + suffix);
                co_await open_and_close(appended, "a" + suffix);
                REQUIRE(fs::exists(appended));
            }
        }());
    }
}

TEST_CASE("the mode letters may come in any order") {
    temp_dir dir;
    std::string path = dir / "order";
    spit(path, "data");
    corio::run([&]() -> corio::task<void> {
        for (const char* mode : {"rb", "br", "rb+", "r+b", "+rb", "b+r", "tr", "wb+"}) {
            corio::file f = co_await corio::open(path, mode);
            co_await f.close();
        }
    }());
}

TEST_CASE("a bad mode string throws std::invalid_argument") {
    temp_dir dir;
    std::string path = dir / "bad";
    spit(path, "");
    corio::run([&]() -> corio::task<void> {
        for (const char* mode : {"", "z", "rw", "r++", "rbb", "rbt", "+", "b", "rx", "wa", "R", "r "}) {
            INFO("mode '" << mode << "'");
            auto e = co_await error_of<std::invalid_argument>(open_and_close(path, mode));
            REQUIRE(e);
            REQUIRE(std::string(e->what()).find(mode) != std::string::npos);
        }
    }());
}

TEST_CASE("opening fails with std::system_error naming the path") {
    temp_dir dir;
    corio::run([&]() -> corio::task<void> {
        std::string missing = dir / "missing.txt";
        auto e = co_await system_error_of(open_and_close(missing, "r"));
        REQUIRE(e);
        REQUIRE(e->code() == std::errc::no_such_file_or_directory);
        REQUIRE(std::string(e->what()).find(missing) != std::string::npos);

        std::string in_missing_dir = dir / "no/such/dir.txt";
        e = co_await system_error_of(open_and_close(in_missing_dir, "w"));
        REQUIRE(e);
        REQUIRE(e->code() == std::errc::no_such_file_or_directory);

        std::string d = dir.path.string();
        for (const char* mode : {"r", "rb", "w", "a", "r+"}) {
            INFO("directory opened with '" << mode << "'");
            e = co_await system_error_of(open_and_close(d, mode));
            REQUIRE(e);
            REQUIRE(e->code() == std::errc::is_a_directory);
            REQUIRE(std::string(e->what()).find(d) != std::string::npos);
        }

        auto r = co_await system_error_of(corio::read_file(missing));
        REQUIRE(r);
        REQUIRE(r->code() == std::errc::no_such_file_or_directory);
    }());
}

TEST_CASE("permission errors: a file without write permission") {
    temp_dir dir;
    std::string path = dir / "readonly.txt";
    spit(path, "locked");
    ::chmod(path.c_str(), 0444);
    if (::geteuid() == 0) {
        WARN("running as root, which bypasses file permissions: skipping the EACCES check "
             "(writing through a file opened \"r\" is checked in the modes test)");
        return;
    }
    corio::run([&]() -> corio::task<void> {
        auto e = co_await system_error_of(open_and_close(path, "w"));
        REQUIRE(e);
        REQUIRE(e->code() == std::errc::permission_denied);
        REQUIRE(std::string(e->what()).find(path) != std::string::npos);
        auto w = co_await system_error_of(corio::write_file(path, "x"));
        REQUIRE(w);
        REQUIRE(w->code() == std::errc::permission_denied);
    }());
    REQUIRE(slurp(path) == "locked");
}

TEST_CASE("read(n), read(), readline, next_line and readlines") {
    temp_dir dir;
    std::string path = dir / "lines.txt";
    spit(path, "one\ntwo\n\nfour\r\nlast without newline");
    corio::run([&]() -> corio::task<void> {
        corio::file f = co_await corio::open(path, "r");
        std::string a = co_await f.read(2);
        REQUIRE(a == "on");
        std::string line = co_await f.readline();
        REQUIRE(line == "e\n");
        line = co_await f.readline();
        REQUIRE(line == "two\n");
        line = co_await f.readline();
        REQUIRE(line == "\n");
        line = co_await f.readline();
        REQUIRE(line == "four\r\n"); // no newline translation
        REQUIRE(f.tell() == 15);
        std::string rest = co_await f.read();
        REQUIRE(rest == "last without newline");
        line = co_await f.readline();
        REQUIRE(line.empty());
        std::string none = co_await f.read(10);
        REQUIRE(none.empty());

        co_await f.seek(0);
        std::vector<std::string> lines;
        while (auto l = co_await f.next_line()) lines.push_back(*l);
        REQUIRE(lines == std::vector<std::string>{"one\n", "two\n", "\n", "four\r\n", "last without newline"});

        co_await f.seek(4);
        std::vector<std::string> all = co_await f.readlines();
        REQUIRE(all == std::vector<std::string>{"two\n", "\n", "four\r\n", "last without newline"});
        co_await f.close();
    }());
}

TEST_CASE("an empty file reads as empty") {
    temp_dir dir;
    std::string path = dir / "empty";
    spit(path, "");
    corio::run([&]() -> corio::task<void> {
        corio::file f = co_await corio::open(path, "rb");
        std::string a = co_await f.read();
        std::string b = co_await f.read(100000);
        std::string c = co_await f.readline();
        auto d = co_await f.next_line();
        REQUIRE(a.empty());
        REQUIRE(b.empty());
        REQUIRE(c.empty());
        REQUIRE_FALSE(d);
        std::string whole = co_await corio::read_file(path);
        REQUIRE(whole.empty());
    }());
}

TEST_CASE("binary data survives untouched") {
    temp_dir dir;
    std::string path = dir / "bin";
    std::string data = pattern(300000, 1);
    data[10] = '\0';
    data[11] = '\r';
    data[12] = '\n';
    corio::run([&]() -> corio::task<void> {
        co_await corio::write_file(path, data);
        std::string back = co_await corio::read_file(path);
        REQUIRE(back == data);
        std::string text = co_await read_all(path, "r"); // text mode: same bytes
        REQUIRE(text == data);
    }());
}

TEST_CASE("reads of every size across buffer boundaries reassemble the file") {
    temp_dir dir;
    std::string path = dir / "chunks";
    std::string data = pattern(1'000'000, 2);
    spit(path, data);
    corio::run([&]() -> corio::task<void> {
        corio::file f = co_await corio::open(path, "rb");
        std::mt19937 rng(3);
        std::string got;
        const std::size_t sizes[] = {1, 7, 100, 4096, 65535, 65536, 65537, 200000, 262144};
        for (;;) {
            std::size_t n = sizes[rng() % std::size(sizes)];
            std::string part = co_await f.read(n);
            if (part.empty()) break;
            if (got.size() + n <= data.size()) REQUIRE(part.size() == n); // full unless at EOF
            got += part;
            REQUIRE(f.tell() == got.size());
        }
        REQUIRE(got == data);
        co_await f.close();
    }());
}

TEST_CASE("readinto fills a reused buffer and mixes with read and seek") {
    temp_dir dir;
    std::string path = dir / "readinto";
    std::string data = pattern(2'000'000, 12);
    spit(path, data);
    corio::run([&]() -> corio::task<void> {
        corio::file f = co_await corio::open(path, "rb");
        std::string got;
        std::string big(262144, '\0'), small(1000, '\0');
        // Streaming (with read-ahead), then small reads, then read(n), then streaming again.
        for (int i = 0; i < 3; ++i) {
            std::size_t n = co_await f.readinto(big);
            REQUIRE(n == big.size());
            REQUIRE(big.size() == 262144);
            got.append(big, 0, n);
        }
        for (int i = 0; i < 3; ++i) {
            std::size_t n = co_await f.readinto(small);
            REQUIRE(n == 1000);
            got.append(small, 0, n);
        }
        got += co_await f.read(262144);
        REQUIRE(f.tell() == got.size());
        for (;;) {
            std::size_t n = co_await f.readinto(big);
            REQUIRE(big.size() == 262144);
            if (n == 0) break;
            got.append(big, 0, n);
        }
        REQUIRE(got == data);

        // Back to the start: what was read ahead is not served after a seek.
        co_await f.seek(5);
        std::size_t n = co_await f.readinto(big);
        REQUIRE(n == big.size());
        REQUIRE(big == data.substr(5, big.size()));
        std::string empty;
        n = co_await f.readinto(empty);
        REQUIRE(n == 0);
        co_await f.close();
    }());
}

TEST_CASE("a cancelled readinto leaves the position where it was") {
    temp_dir dir;
    std::string path = dir / "readinto_cancel";
    std::string data = pattern(1'000'000, 13);
    spit(path, data);
    corio::run([&]() -> corio::task<void> {
        corio::event_loop::current().service<corio::thread_pool>().set_thread_count(1);
        corio::file f = co_await corio::open(path, "rb");
        std::string buf(300000, '\0');
        worker_blocker b;
        co_await b.start();
        bool cancelled = co_await cancelled_at(f.readinto(buf), 1);
        co_await b.release();
        REQUIRE(cancelled);
        REQUIRE(f.tell() == 0);
        buf.resize(300000);
        std::size_t n = co_await f.readinto(buf);
        REQUIRE(n == 300000);
        REQUIRE(buf == data.substr(0, 300000));
        co_await f.close();
    }());
}

TEST_CASE("readline across buffer boundaries and very long lines") {
    temp_dir dir;
    std::string path = dir / "long_lines";
    std::string data;
    std::vector<std::string> expected;
    std::mt19937 rng(4);
    for (int i = 0; i < 300; ++i) {
        std::size_t len = (i % 50 == 0) ? 150000 : rng() % 3000;
        std::string line(len, static_cast<char>('a' + i % 26));
        line += '\n';
        expected.push_back(line);
        data += line;
    }
    spit(path, data);
    corio::run([&]() -> corio::task<void> {
        corio::file f = co_await corio::open(path, "r");
        std::vector<std::string> got;
        while (auto l = co_await f.next_line()) got.push_back(std::move(*l));
        REQUIRE(got == expected);
        co_await f.close();
    }());
}

TEST_CASE("small and large writes interleave in order") {
    temp_dir dir;
    std::string path = dir / "writes";
    std::string expected;
    corio::run([&]() -> corio::task<void> {
        corio::file f = co_await corio::open(path, "wb");
        std::mt19937 rng(5);
        for (int i = 0; i < 200; ++i) {
            std::size_t n = (i % 17 == 0) ? 100000 + rng() % 100000 : rng() % 5000;
            std::string chunk = pattern(n, static_cast<unsigned>(i));
            expected += chunk;
            std::size_t put = co_await f.write(chunk);
            REQUIRE(put == n);
            REQUIRE(f.tell() == expected.size());
        }
        std::uint64_t size = co_await f.size(); // counts buffered data
        REQUIRE(size == expected.size());
        co_await f.close();
    }());
    REQUIRE(slurp(path) == expected);
}

TEST_CASE("flush hands data to the OS; sync reaches the disk; both keep the file open") {
    temp_dir dir;
    std::string path = dir / "flushed";
    corio::run([&]() -> corio::task<void> {
        corio::file f = co_await corio::open(path, "w");
        co_await f.write("buffered");
        REQUIRE(slurp(path).empty()); // still in the write buffer
        co_await f.flush();
        REQUIRE(slurp(path) == "buffered");
        co_await f.write(" synced");
        co_await f.sync();
        REQUIRE(slurp(path) == "buffered synced");
        co_await f.write("!");
        co_await f.close();
    }());
    REQUIRE(slurp(path) == "buffered synced!");
}

TEST_CASE("seek and tell") {
    temp_dir dir;
    std::string path = dir / "seek";
    spit(path, "0123456789");
    corio::run([&]() -> corio::task<void> {
        corio::file f = co_await corio::open(path, "r+b");
        std::uint64_t p = co_await f.seek(3);
        REQUIRE(p == 3);
        std::string s = co_await f.read(2);
        REQUIRE(s == "34");
        p = co_await f.seek(-1, corio::whence::cur);
        REQUIRE(p == 4);
        s = co_await f.read(1);
        REQUIRE(s == "4");
        p = co_await f.seek(-2, corio::whence::end);
        REQUIRE(p == 8);
        s = co_await f.read();
        REQUIRE(s == "89");
        REQUIRE(f.tell() == 10);

        // Inside the read buffer and out of it again.
        co_await f.seek(1);
        s = co_await f.read(1);
        REQUIRE(s == "1");
        co_await f.seek(9);
        s = co_await f.read(5);
        REQUIRE(s == "9");

        auto e = co_await error_of<std::invalid_argument>(f.seek(-1));
        REQUIRE(e);
        REQUIRE(f.tell() == 10); // unchanged

        // A write past the end leaves a hole of zeros.
        co_await f.seek(12);
        co_await f.write("Z");
        std::uint64_t size = co_await f.size();
        REQUIRE(size == 13);
        // Writing moves the position; buffered writes are visible to reads on the same file.
        co_await f.seek(0);
        co_await f.write("ab");
        s = co_await f.read(2);
        REQUIRE(s == "23");
        co_await f.close();
    }());
    REQUIRE(slurp(path) == std::string("ab23456789\0\0Z", 13));
}

TEST_CASE("append mode ignores the position for writes") {
    temp_dir dir;
    std::string path = dir / "append";
    spit(path, "start\n");
    corio::run([&]() -> corio::task<void> {
        corio::file f = co_await corio::open(path, "a+");
        co_await f.seek(0);
        co_await f.write("one\n");
        co_await f.flush();
        REQUIRE(f.tell() == 10);
        co_await f.write(std::string(100000, 'x')); // a direct write
        REQUIRE(f.tell() == 100010);
        co_await f.close();
    }());
    REQUIRE(slurp(path) == "start\none\n" + std::string(100000, 'x'));
}

TEST_CASE("close is idempotent; operations after close throw std::logic_error") {
    temp_dir dir;
    std::string path = dir / "closed";
    corio::run([&]() -> corio::task<void> {
        corio::file f = co_await corio::open(path, "w+");
        co_await f.write("x");
        co_await f.close();
        co_await f.close();
        auto e = co_await error_of<std::logic_error>(f.read(1));
        REQUIRE(e);
        REQUIRE(std::string(e->what()).find(path) != std::string::npos);
        e = co_await error_of<std::logic_error>(f.write("y"));
        REQUIRE(e);
        e = co_await error_of<std::logic_error>(f.seek(0));
        REQUIRE(e);
        corio::file never_opened;
        REQUIRE_FALSE(never_opened.is_open());
        co_await never_opened.close();
    }());
}

TEST_CASE("two operations at once on one file are refused") {
    temp_dir dir;
    std::string path = dir / "busy";
    spit(path, pattern(1 << 20, 6));
    corio::run([&]() -> corio::task<void> {
        corio::file f = co_await corio::open(path, "rb");
        auto first = corio::spawn(f.read(1 << 20));
        co_await corio::sleep(0ms); // first starts and suspends in the pool
        auto e = co_await error_of<std::logic_error>(f.read(10));
        REQUIRE(e);
        std::string s = co_await first;
        REQUIRE(s.size() == (1u << 20));
        co_await f.close();
    }());
}

TEST_CASE("the destructor flushes and closes in the background; no descriptor leaks") {
    temp_dir dir;
    std::string path = dir / "dropped";
    int fds = open_fd_count();
    corio::run([&]() -> corio::task<void> {
        {
            corio::file f = co_await corio::open(path, "w");
            co_await f.write("pending data");
        } // not closed: the destructor hands flush + close to a worker
        std::vector<corio::file> files;
        for (int i = 0; i < 20; ++i) files.push_back(co_await corio::open(path, "r"));
        corio::file moved = std::move(files.back());
        files.pop_back();
        REQUIRE(moved.is_open());
    }());
    // run() joined the pool: everything handed to it is done.
    REQUIRE(slurp(path) == "pending data");
    REQUIRE(open_fd_count() == fds);
}

TEST_CASE("read_file and write_file") {
    temp_dir dir;
    std::string path = dir / "whole";
    std::string data = pattern(5'000'000, 7);
    corio::run([&]() -> corio::task<void> {
        co_await corio::write_file(path, data);
        std::string back = co_await corio::read_file(path);
        REQUIRE(back == data);
        co_await corio::write_file(path, "short"); // truncates
        back = co_await corio::read_file(path);
        REQUIRE(back == "short");
        // /proc files report size 0 but have content.
        std::string status = co_await corio::read_file("/proc/self/status");
        REQUIRE(status.find("Name:") != std::string::npos);
    }());
}

TEST_CASE("a cancelled read leaves the position and the data where they were") {
    temp_dir dir;
    std::string path = dir / "cancel_read";
    std::string data = pattern(400000, 8);
    std::replace(data.begin(), data.end(), '\n', 'x'); // readline must go past the buffer
    spit(path, data);
    corio::run([&]() -> corio::task<void> {
        corio::event_loop::current().service<corio::thread_pool>().set_thread_count(1);
        corio::file f = co_await corio::open(path, "rb");
        std::string head = co_await f.read(10);
        REQUIRE(head == data.substr(0, 10));

        worker_blocker b;
        co_await b.start();
        bool c1 = co_await cancelled_at(f.read(70000), 1);  // a buffer refill
        bool c2 = co_await cancelled_at(f.read(300000), 1); // a direct read
        bool c3 = co_await cancelled_at(f.readline(), 1);
        bool c4 = co_await cancelled_at(f.read(), 1);
        co_await b.release();
        REQUIRE(c1);
        REQUIRE(c2);
        REQUIRE(c3);
        REQUIRE(c4);
        REQUIRE(f.tell() == 10);
        std::string rest = co_await f.read();
        REQUIRE(rest == data.substr(10));
        co_await f.close();
    }());
}

TEST_CASE("a cancelled streaming read drops its read-ahead and loses nothing") {
    temp_dir dir;
    std::string path = dir / "cancel_stream";
    std::string data = pattern(8'000'000, 9);
    spit(path, data);
    const std::size_t chunk = 1 << 20; // a chunk this size is read ahead one at a time
    corio::run([&]() -> corio::task<void> {
        corio::event_loop::current().service<corio::thread_pool>().set_thread_count(1);
        corio::file f = co_await corio::open(path, "rb");
        std::string got;
        for (int i = 0; i < 3; ++i) got += co_await f.read(chunk); // read-ahead under way
        worker_blocker b;
        co_await b.start(); // queued behind the read-ahead: it is done once this runs
        got += co_await f.read(chunk); // served by the read-ahead, without the pool
        bool cancelled = co_await cancelled_at(f.read(chunk), 1);
        co_await b.release();
        REQUIRE(cancelled);
        REQUIRE(f.tell() == got.size());
        for (;;) {
            std::string part = co_await f.read(chunk);
            if (part.empty()) break;
            got += part;
        }
        REQUIRE(got == data);
        co_await f.close();
    }());
}

TEST_CASE("cancelled writes: the position advances only for writes that completed") {
    temp_dir dir;
    std::string path = dir / "cancel_write";
    std::string big(200000, 'B');
    corio::run([&]() -> corio::task<void> {
        corio::event_loop::current().service<corio::thread_pool>().set_thread_count(1);
        corio::file f = co_await corio::open(path, "w+b");
        co_await f.write("head:");
        co_await f.flush();
        co_await f.write("buffered"); // completes at once, into the buffer
        REQUIRE(f.tell() == 13);

        worker_blocker b;
        co_await b.start();
        bool c1 = co_await cancelled_at(f.write(big), 1); // flushes first, then direct
        bool c2 = co_await cancelled_at(f.flush(), 1);
        co_await b.release();
        REQUIRE(c1);
        REQUIRE(c2);
        REQUIRE(f.tell() == 13); // "buffered" still counts: it completed

        co_await f.write(":tail");
        co_await f.close();
    }());
    REQUIRE(slurp(path) == "head:buffered:tail");
}

TEST_CASE("a cancelled flush in append mode drops the pending data") {
    temp_dir dir;
    std::string path = dir / "cancel_append";
    spit(path, "log:");
    corio::run([&]() -> corio::task<void> {
        corio::event_loop::current().service<corio::thread_pool>().set_thread_count(1);
        corio::file f = co_await corio::open(path, "a");
        co_await f.write("lost");
        REQUIRE(f.tell() == 8);
        worker_blocker b;
        co_await b.start();
        bool c = co_await cancelled_at(f.flush(), 1);
        co_await b.release();
        REQUIRE(c);
        REQUIRE(f.tell() == 4); // back to the end of what was flushed
        co_await f.write("kept");
        co_await f.close();
    }());
    REQUIRE(slurp(path) == "log:kept");
}

TEST_CASE("cancelling file operations at random points never corrupts the file object") {
    temp_dir dir;
    std::string path = dir / "cancel_random";
    std::string data = pattern(3'000'000, 10);
    spit(path, data);
    long frames = corio::detail::live_frames.load();
    corio::run([&]() -> corio::task<void> {
        corio::file f = co_await corio::open(path, "rb");
        std::string got;
        int cancels = 0;
        for (int i = 0; got.size() < data.size(); ++i) {
            std::size_t n = (i % 3 == 0) ? 262144 : (i % 3 == 1) ? 1000 : 70000;
            auto h = corio::spawn(f.read(n));
            if (i % 2) co_await corio::sleep(std::chrono::microseconds(50 * (i % 7)));
            if (i % 4 == 1) h.cancel();
            try {
                std::string part = co_await h;
                got += part;
            } catch (const corio::cancelled_error&) {
                ++cancels;
            }
            REQUIRE(f.tell() == got.size());
        }
        REQUIRE(got == data);
        REQUIRE(cancels >= 0);
        co_await f.close();
    }());
    REQUIRE(corio::detail::live_frames.load() == frames);
}

TEST_CASE("a 256 MiB file streams in chunks while the loop keeps ticking") {
    const std::size_t total = 256u << 20, chunk = 1u << 20;
    std::string path = "/tmp/corio_test_file_big." + std::to_string(::getpid());
    struct remover {
        std::string p;
        ~remover() { ::unlink(p.c_str()); }
    } cleanup{path};
    // The content of chunk k: a block of pattern bytes, rotated by k.
    const std::string block = pattern(chunk, 11);
    auto expected_chunk = [&](std::size_t k) {
        std::size_t r = (k * 4099) % chunk;
        return block.substr(r) + block.substr(0, r);
    };

    rusage before{};
    ::getrusage(RUSAGE_SELF, &before);
    int ticks_during_read = 0;
    std::size_t chunks_read = 0;
    bool contents_ok = true;
    corio::run([&]() -> corio::task<void> {
        {
            corio::file out = co_await corio::open(path, "wb");
            for (std::size_t k = 0; k < total / chunk; ++k) co_await out.write(expected_chunk(k));
            co_await out.close();
        }
        int ticks = 0;
        auto ticker = corio::spawn([&]() -> corio::task<void> {
            for (;;) {
                co_await corio::sleep(1ms);
                ++ticks;
            }
        });
        co_await corio::sleep(0ms);
        corio::file in = co_await corio::open(path, "rb");
        int ticks_at_start = ticks;
        for (;;) {
            std::string part = co_await in.read(chunk);
            if (part.empty()) break;
            if (part != expected_chunk(chunks_read)) contents_ok = false;
            ++chunks_read;
        }
        ticks_during_read = ticks - ticks_at_start;
        co_await in.close();
        ticker.cancel();
    }());
    rusage after{};
    ::getrusage(RUSAGE_SELF, &after);
    REQUIRE(chunks_read == total / chunk);
    REQUIRE(contents_ok);
    REQUIRE(ticks_during_read > 0); // the sleeps kept firing while the file was read
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    // Bounded memory: the peak grew by far less than the file (ASan/TSan keep freed memory).
    long grown_kib = after.ru_maxrss - before.ru_maxrss;
    INFO("peak RSS grew by " << grown_kib << " KiB");
    REQUIRE(grown_kib < 64 * 1024);
#endif
}

TEST_CASE("100 files read concurrently with gather") {
    temp_dir dir;
    std::vector<std::string> paths, contents;
    for (int i = 0; i < 100; ++i) {
        paths.push_back(dir / ("f" + std::to_string(i)));
        contents.push_back(pattern(static_cast<std::size_t>(i) * 3001 + (i % 10 == 0 ? 300000 : 0),
                                   static_cast<unsigned>(100 + i)));
        spit(paths.back(), contents.back());
    }
    corio::run([&]() -> corio::task<void> {
        std::vector<corio::task<std::string>> reads;
        for (int i = 0; i < 100; ++i)
            reads.push_back(i % 2 ? corio::read_file(paths[static_cast<std::size_t>(i)])
                                  : read_all(paths[static_cast<std::size_t>(i)]));
        std::vector<std::string> got = co_await corio::gather(std::move(reads));
        REQUIRE(got.size() == 100);
        for (std::size_t i = 0; i < 100; ++i) {
            INFO("file " << i);
            REQUIRE(got[i] == contents[i]);
        }
    }());
}
