// Files at the edges: ones that cannot seek (a FIFO fed by another thread, /dev/zero),
// one whose size reads 0 (/proc/self/status), and writes that do not fit (a file size
// limit, which needs no privileges, and a full tmpfs where mounting one is allowed).
#include "corio_test.hpp"
#include "helpers/file_helpers.hpp"

#include <corio/file.hpp>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct temp_dir : test_support::temp_dir {
    temp_dir() : test_support::temp_dir("corio_test_file_edges") {}
};

using test_support::pattern;

using test_support::error_of;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// write(2) of all of `data`, for the plain-C side of a FIFO. The helper threads report
// through their return values, checked after join: Catch2's assertions are not
// thread-safe.
bool write_all(int fd, const std::string& data) {
    std::size_t put = 0;
    while (put < data.size()) {
        ssize_t r = ::write(fd, data.data() + put, data.size() - put);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        put += static_cast<std::size_t>(r);
    }
    return true;
}

corio::task<void> tick(std::atomic<long>& ticks) {
    for (;;) {
        co_await corio::sleep(1ms);
        ticks.fetch_add(1, std::memory_order_release);
    }
}

// The line names ("Name", "Pid", ...) of a /proc status text, in order.
std::vector<std::string> keys_of(const std::string& text) {
    std::vector<std::string> keys;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) keys.push_back(line.substr(0, line.find(':')));
    return keys;
}

// Lowers RLIMIT_FSIZE for the process (its workers write) and ignores SIGXFSZ, so a write
// past the limit fails with EFBIG instead of killing the process; restores both.
struct file_size_limit {
    rlimit old{};
    struct sigaction old_action{};
    explicit file_size_limit(rlim_t bytes) {
        REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
        struct sigaction ignore{};
        ignore.sa_handler = SIG_IGN;
        REQUIRE(::sigaction(SIGXFSZ, &ignore, &old_action) == 0);
        rlimit lower = old;
        lower.rlim_cur = bytes;
        REQUIRE(::setrlimit(RLIMIT_FSIZE, &lower) == 0);
    }
    ~file_size_limit() {
        ::setrlimit(RLIMIT_FSIZE, &old);
        ::sigaction(SIGXFSZ, &old_action, nullptr);
    }
};

struct overflow_report {
    std::size_t accepted = 0; // bytes write() took without an error
    std::optional<corio::file_write_error> on_write, on_close;
};

// Writes `chunk`-byte pieces until a write fails (at most `limit` bytes), then closes.
corio::task<overflow_report> write_until_full(std::string path, std::size_t chunk, std::size_t limit) {
    overflow_report r;
    corio::file f = co_await corio::open(path, "wb");
    std::string piece = pattern(chunk, 3);
    while (r.accepted < limit) {
        try {
            r.accepted += co_await f.write(piece);
        } catch (const corio::file_write_error& e) {
            r.on_write = e;
            break;
        }
    }
    r.on_close = co_await error_of<corio::file_write_error>(f.close());
    REQUIRE_FALSE(f.is_open());
    co_return r;
}

// What a full file system or a size limit must leave behind: every byte accepted either
// reached the file or was named as lost by the final error, and both errors count the
// same bytes still buffered.
void check_overflow(const overflow_report& r, const std::string& path, int err) {
    REQUIRE(r.on_write);
    REQUIRE(r.on_close);
    INFO(r.on_write->what());
    INFO(r.on_close->what());
    REQUIRE(r.on_write->code().value() == err);
    REQUIRE(r.on_close->code().value() == err);
    std::size_t on_disk = fs::file_size(path);
    REQUIRE(on_disk + r.on_close->bytes_not_written() == r.accepted);
    REQUIRE(r.on_close->bytes_written() == 0);
    REQUIRE(r.on_close->bytes_not_written() == r.on_write->bytes_not_written());
    REQUIRE(r.on_write->bytes_not_written() > 0);
    std::string expected = "flush '" + path + "': " + std::to_string(r.on_write->bytes_not_written()) + " of " +
                           std::to_string(r.on_write->bytes_written() + r.on_write->bytes_not_written()) +
                           " buffered bytes did not reach the file: ";
    REQUIRE(contains(r.on_write->what(), expected));
    REQUIRE(contains(r.on_close->what(), "flush '" + path + "': " +
                                             std::to_string(r.on_close->bytes_not_written()) + " of " +
                                             std::to_string(r.on_close->bytes_not_written()) +
                                             " buffered bytes did not reach the file: "));
}

// A tmpfs of `size` mounted on a fresh directory, unmounted (lazily, if busy) at the end.
struct small_tmpfs {
    temp_dir dir;
    bool mounted = false;
    int error = 0;
    explicit small_tmpfs(const char* size) {
        std::string options = std::string("size=") + size;
        mounted = ::mount("tmpfs", dir.path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) == 0;
        if (!mounted) error = errno;
    }
    ~small_tmpfs() {
        if (mounted && ::umount2(dir.path.c_str(), 0) != 0) ::umount2(dir.path.c_str(), MNT_DETACH);
    }
};

} // namespace

TEST_CASE("a FIFO fed in bursts by another thread is read line by line while the loop keeps ticking") {
    temp_dir dir;
    std::string fifo = dir / "fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);

    // Each burst ends part-way through a line, finished by the next burst.
    std::vector<std::string> lines;
    for (int i = 0; i < 200; ++i) lines.push_back("line " + std::to_string(i) + " " + std::string(i % 37, 'x') + "\n");
    std::string all;
    for (auto& l : lines) all += l;
    const int bursts = 20;

    std::atomic<long> ticks{0};
    bool wrote = false;
    std::thread writer([&] {
        int fd = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC); // waits for the reader to open
        if (fd < 0) return;
        std::size_t sent = 0;
        for (int b = 1; b <= bursts; ++b) {
            // The reader is waiting on the empty FIFO now; the loop must still be free to
            // tick. A loop blocked in that read would never get here (the CTest timeout).
            long seen = ticks.load(std::memory_order_acquire);
            while (ticks.load(std::memory_order_acquire) < seen + 2) std::this_thread::sleep_for(1ms);
            std::size_t upto = b == bursts ? all.size() : all.size() * b / bursts;
            if (!write_all(fd, all.substr(sent, upto - sent))) break;
            sent = upto;
        }
        wrote = sent == all.size();
        ::close(fd);
    });

    std::vector<std::string> got;
    long ticks_seen = 0;
    std::optional<std::system_error> tell_error, seek_error;
    try {
        corio::run([&]() -> corio::task<void> {
            auto ticker = corio::spawn(tick(ticks));
            corio::file f = co_await corio::open(fifo, "r");
            REQUIRE_FALSE(f.seekable());
            try {
                (void)f.tell();
            } catch (const std::system_error& e) {
                tell_error = e;
            }
            seek_error = co_await error_of<std::system_error>(f.seek(0));
            while (auto line = co_await f.next_line()) got.push_back(*line);
            co_await f.close();
            ticker.cancel();
            ticks_seen = ticks.load();
        }());
    } catch (...) {
        writer.join();
        throw;
    }
    writer.join();
    REQUIRE(wrote);
    REQUIRE(got == lines);
    REQUIRE(ticks_seen >= 2 * bursts);
    REQUIRE(tell_error);
    REQUIRE(tell_error->code().value() == ESPIPE);
    REQUIRE(contains(tell_error->what(), "tell '" + fifo + "': not seekable"));
    REQUIRE(seek_error);
    REQUIRE(seek_error->code().value() == ESPIPE);
    REQUIRE(contains(seek_error->what(), "seek '" + fifo + "': not seekable"));
}

TEST_CASE("a FIFO: read(n) gives n bytes, readinto fills, read() goes on until the writer closes") {
    temp_dir dir;
    std::string fifo = dir / "fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    const std::string data = pattern(3u << 20, 11);
    bool wrote = false;
    std::thread writer([&] {
        int fd = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0) return;
        std::mt19937 rng(5);
        std::size_t off = 0;
        while (off < data.size()) {
            std::size_t n = std::min<std::size_t>(rng() % 100000 + 1, data.size() - off);
            if (!write_all(fd, data.substr(off, n))) break;
            off += n;
        }
        wrote = off == data.size();
        ::close(fd);
    });
    std::string got;
    try {
        corio::run([&]() -> corio::task<void> {
            corio::file f = co_await corio::open(fifo, "rb");
            std::string a = co_await f.read(10);
            REQUIRE(a.size() == 10);
            got += a;
            std::string b = co_await f.read(300000); // past the buffer: the direct path
            REQUIRE(b.size() == 300000);
            got += b;
            for (int i = 0; i < 5; ++i) { // same size again: where a seekable file reads ahead
                std::string c = co_await f.read(200000);
                REQUIRE(c.size() == 200000);
                got += c;
            }
            std::string buf(100000, '\0');
            std::size_t n = co_await f.readinto(buf);
            REQUIRE(n == buf.size());
            got += buf;
            got += co_await f.read();
            REQUIRE(co_await f.read(1) == "");
            co_await f.close();
        }());
    } catch (...) {
        writer.join();
        throw;
    }
    writer.join();
    REQUIRE(wrote);
    REQUIRE(got.size() == data.size());
    REQUIRE(got == data);
}

TEST_CASE("writing to a FIFO: buffered and direct writes arrive in order") {
    temp_dir dir;
    std::string fifo = dir / "fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    std::string received;
    std::thread reader([&] {
        int fd = ::open(fifo.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return;
        char buf[65536];
        for (;;) {
            ssize_t r = ::read(fd, buf, sizeof buf);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            received.append(buf, static_cast<std::size_t>(r));
        }
        ::close(fd);
    });
    std::string sent;
    try {
        corio::run([&]() -> corio::task<void> {
            corio::file f = co_await corio::open(fifo, "wb");
            REQUIRE_FALSE(f.seekable());
            for (int i = 0; i < 1000; ++i) {
                std::string small = "small " + std::to_string(i) + "\n";
                co_await f.write(small);
                sent += small;
                if (i % 100 == 0) {
                    std::string big = pattern(150000, static_cast<unsigned>(i));
                    co_await f.write(big);
                    sent += big;
                }
            }
            co_await f.flush();
            co_await f.close();
        }());
    } catch (...) {
        reader.join();
        throw;
    }
    reader.join();
    REQUIRE(received.size() == sent.size());
    REQUIRE(received == sent);
}

TEST_CASE("/dev/zero cannot seek, and read(n) gives n zero bytes") {
    corio::run([]() -> corio::task<void> {
        corio::file f = co_await corio::open("/dev/zero", "rb");
        REQUIRE_FALSE(f.seekable());
        REQUIRE(co_await f.read(5) == std::string(5, '\0'));
        REQUIRE(co_await f.read(300000) == std::string(300000, '\0'));
        std::string buf(70000, 'x');
        REQUIRE(co_await f.readinto(buf) == buf.size());
        REQUIRE(buf == std::string(70000, '\0'));
        auto e = co_await error_of<std::system_error>(f.seek(10));
        REQUIRE(e);
        REQUIRE(e->code().value() == ESPIPE);
        co_await f.close();
    }());
}

TEST_CASE("/proc/self/status, whose size reads 0, is read to its end") {
    struct stat st{};
    REQUIRE(::stat("/proc/self/status", &st) == 0);
    REQUIRE(st.st_size == 0);
    std::ifstream in("/proc/self/status");
    std::stringstream plain;
    plain << in.rdbuf();
    std::string text, first_line;
    std::vector<std::string> lines;
    corio::run([&]() -> corio::task<void> {
        corio::file f = co_await corio::open("/proc/self/status", "r");
        text = co_await f.read();
        co_await f.close();
        corio::file g = co_await corio::open("/proc/self/status", "r");
        while (auto line = co_await g.next_line()) lines.push_back(*line);
        co_await g.close();
    }());
    INFO(text);
    REQUIRE(text.rfind("Name:", 0) == 0);
    REQUIRE(contains(text, "\nPid:\t"));
    REQUIRE(text.back() == '\n');
    REQUIRE(keys_of(text) == keys_of(plain.str())); // the values (memory, ...) move on
    REQUIRE(lines.size() == keys_of(text).size());
}

TEST_CASE("a flush past the file size limit says how many buffered bytes did not reach the file") {
    temp_dir dir;
    std::string path = dir / "limited.bin";
    const std::size_t limit = (1u << 20) + 1000; // not a multiple of the write size
    overflow_report small, large;
    std::optional<corio::file_write_error> direct;
    {
        file_size_limit guard(limit);
        small = corio::run(write_until_full(path, 1000, 4u << 20));
        corio::run([&]() -> corio::task<void> {
            // Writes of 256 KiB bypass the buffer: the write itself reports its loss.
            corio::file f = co_await corio::open(dir / "direct.bin", "wb");
            std::string piece = pattern(256 * 1024, 4);
            for (int i = 0; i < 8 && !direct; ++i) direct = co_await error_of<corio::file_write_error>(f.write(piece));
            co_await f.close();
        }());
    }
    check_overflow(small, path, EFBIG);
    REQUIRE(fs::file_size(path) == limit);
    REQUIRE(direct);
    INFO(direct->what());
    REQUIRE(direct->code().value() == EFBIG);
    REQUIRE(direct->bytes_written() == 1000); // 4 x 256 KiB fit, then 1000 bytes of the 5th
    REQUIRE(direct->bytes_not_written() == 256 * 1024 - 1000);
    REQUIRE(contains(direct->what(), "write '" + (dir / "direct.bin") + "': " +
                                         std::to_string(256 * 1024 - 1000) + " of " + std::to_string(256 * 1024) +
                                         " bytes did not reach the file: "));
}

TEST_CASE("a full file system: the flush error counts the buffered bytes that did not reach the file") {
    small_tmpfs fs1("1m");
    if (!fs1.mounted) {
        WARN("cannot mount a tmpfs here (" << std::strerror(fs1.error) << "): full-disk check skipped");
        return;
    }
    std::string path = fs1.dir / "full.bin";
    overflow_report r = corio::run(write_until_full(path, 1000, 4u << 20));
    check_overflow(r, path, ENOSPC);
    REQUIRE(contains(r.on_write->what(), "No space left on device"));
}

TEST_CASE("a FIFO open for reading and writing keeps what it has read when it writes") {
    temp_dir dir;
    std::string fifo = dir / "fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    std::vector<std::string> got;
    corio::run([&]() -> corio::task<void> {
        corio::file f = co_await corio::open(fifo, "r+b"); // Linux opens a FIFO O_RDWR at once
        co_await f.write("one\ntwo\n");
        co_await f.flush();
        got.push_back(co_await f.readline()); // reads both lines into the buffer
        co_await f.write("three\n");
        co_await f.flush();
        got.push_back(co_await f.readline());
        got.push_back(co_await f.readline());
        co_await f.close();
    }());
    REQUIRE(got == std::vector<std::string>{"one\n", "two\n", "three\n"});
}
