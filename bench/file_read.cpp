// Reads a cached file in 256 KiB chunks three ways, alternating them round after round:
// corio::file::read(n) (a new string per chunk), corio::file::readinto(buf) (one reused
// buffer, like the baseline), and a plain read(2) loop on the calling thread. Prints each
// round, then the medians and the ratios to read(2). The file (1 GiB by default) is
// created under /tmp, read once to warm the page cache, and deleted at the end.
//
//   g++ -O2 -std=c++20 -Iinclude bench/file_read.cpp -o file_read -pthread
//   ./file_read [size_mib] [rounds]
#include <corio/corio.hpp>
#include <corio/file.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace {

constexpr std::size_t chunk = 256 * 1024;
using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

void make_file(const std::string& path, std::size_t bytes) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        std::perror("open");
        std::exit(1);
    }
    std::vector<char> buf(chunk);
    for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<char>('a' + i % 26);
    for (std::size_t done = 0; done < bytes; done += chunk)
        if (::write(fd, buf.data(), chunk) != static_cast<ssize_t>(chunk)) {
            std::perror("write");
            std::exit(1);
        }
    ::fsync(fd); // no writeback of a dirty gigabyte competing with the measurement
    ::close(fd);
}

// The baseline: one reused buffer, read(2) until EOF.
std::size_t plain_read(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY);
    std::vector<char> buf(chunk);
    std::size_t total = 0;
    for (;;) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n <= 0) break;
        total += static_cast<std::size_t>(n);
    }
    ::close(fd);
    return total;
}

corio::task<std::size_t> corio_read(std::string path) {
    corio::file f = co_await corio::open(path, "rb");
    std::size_t total = 0;
    for (;;) {
        std::string s = co_await f.read(chunk);
        if (s.empty()) break;
        total += s.size();
    }
    co_await f.close();
    co_return total;
}

corio::task<std::size_t> corio_readinto(std::string path) {
    corio::file f = co_await corio::open(path, "rb");
    std::string buf(chunk, '\0');
    std::size_t total = 0;
    for (;;) {
        std::size_t n = co_await f.readinto(buf);
        if (n == 0) break;
        total += n;
    }
    co_await f.close();
    co_return total;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

double gbps(std::size_t bytes, double secs) { return static_cast<double>(bytes) / secs / 1e9; }

} // namespace

int main(int argc, char** argv) {
    std::size_t mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1024;
    int rounds = argc > 2 ? std::atoi(argv[2]) : 7;
    std::size_t bytes = mib * 1024 * 1024;
    std::string path = "/tmp/corio_bench_file_read." + std::to_string(::getpid());
    make_file(path, bytes);
    plain_read(path); // warm the page cache

    std::vector<double> plain, read_n, read_into;
    bool short_read = false;
    corio::run([&]() -> corio::task<void> {
        for (int r = 0; r < rounds; ++r) {
            auto t0 = clock_type::now();
            std::size_t a = co_await corio_read(path);
            read_n.push_back(gbps(a, seconds_since(t0)));
            t0 = clock_type::now();
            std::size_t b = co_await corio_readinto(path);
            read_into.push_back(gbps(b, seconds_since(t0)));
            t0 = clock_type::now();
            std::size_t c = plain_read(path);
            plain.push_back(gbps(c, seconds_since(t0)));
            short_read = short_read || a != bytes || b != bytes || c != bytes;
            std::printf("round %d: read(n) %.2f GB/s, readinto %.2f GB/s, read(2) %.2f GB/s\n", r + 1,
                        read_n.back(), read_into.back(), plain.back());
        }
    }());
    ::unlink(path.c_str());
    if (short_read) {
        std::fprintf(stderr, "file_read: a pass read the wrong number of bytes\n");
        return 1;
    }
    double p = median(plain), a = median(read_n), b = median(read_into);
    std::printf("file_read: %zu MiB in 256 KiB chunks, medians of %d rounds: read(2) %.2f GB/s; "
                "corio::file read(n) %.2f GB/s (ratio %.2f), readinto %.2f GB/s (ratio %.2f); "
                "target ratio >= 0.80\n",
                mib, rounds, p, a, a / p, b, b / p);
}
