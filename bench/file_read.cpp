// Reads a cached file in 256 KiB chunks three ways, alternating them round after round:
// corio::file::read(n) (a new string per chunk), corio::file::readinto(buf) (one reused
// buffer, like the baseline), and a plain read(2) loop on the calling thread. Prints each
// round, then the medians as `BENCH name value unit` lines for bench/run (target: corio
// >= 0.8x read(2)).
//
// The file (1 GiB by default) is kept in `dir` as file_read.<size>MiB.dat and reused by
// the next run: bench/run puts it under build/bench, since /tmp may be a small tmpfs.
// It is read before the rounds until at least 99% of it is in the page cache, so
// the rounds measure the copy out of the cache, not the disk.
//
// With a tag (bench/run passes "io_uring" when it runs this with CORIO_BACKEND=io_uring),
// every BENCH name ends in .<tag>, so the runs on each backend keep their own figures,
// and one more line says whether an io_uring instance was open while corio read
// (1 or 0: a 0 means corio read through its fallback, not the ring).
//
//   g++ -O2 -std=c++20 -Iinclude bench/file_read.cpp -o file_read -pthread
//   ./file_read [size_mib] [rounds] [dir] [tag]
#include <corio/corio.hpp>
#include <corio/file.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

constexpr std::size_t chunk = 256 * 1024;
using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

[[noreturn]] void die(const char* what) {
    std::perror(what);
    std::exit(1);
}

// Written under a temporary name and renamed, so an interrupted run never leaves a short
// file that the next run would take for a complete one.
void make_file(const std::string& path, std::size_t bytes) {
    std::string tmp = path + ".part";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) die("open");
    std::vector<char> buf(chunk);
    for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<char>('a' + i % 26);
    for (std::size_t done = 0; done < bytes; done += chunk)
        if (::write(fd, buf.data(), chunk) != static_cast<ssize_t>(chunk)) die("write");
    ::fsync(fd); // no writeback of a dirty gigabyte competing with the measurement
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0) die("rename");
}

bool has_size(const std::string& path, std::size_t bytes) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && static_cast<std::size_t>(st.st_size) == bytes;
}

// Share of the file's pages in the page cache.
double cached_share(const std::string& path, std::size_t bytes) {
    int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) die("open");
    void* p = ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) die("mmap");
    std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> v((bytes + page - 1) / page);
    if (::mincore(p, bytes, v.data()) != 0) die("mincore");
    ::munmap(p, bytes);
    std::size_t in = 0;
    for (unsigned char c : v) in += c & 1;
    return static_cast<double>(in) / static_cast<double>(v.size());
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

// Whether this process has an io_uring instance open.
bool ring_open() {
    DIR* d = ::opendir("/proc/self/fd");
    if (!d) return false;
    bool found = false;
    while (dirent* e = ::readdir(d)) {
        char link[64] = {};
        std::string p = std::string("/proc/self/fd/") + e->d_name;
        ssize_t n = ::readlink(p.c_str(), link, sizeof link - 1);
        if (n > 0 && std::string(link, static_cast<std::size_t>(n)) == "anon_inode:[io_uring]") found = true;
    }
    ::closedir(d);
    return found;
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
    std::string dir = argc > 3 ? argv[3] : ".";
    std::string tag = argc > 4 ? std::string(".") + argv[4] : "";
    if (mib == 0 || rounds <= 0) {
        std::fprintf(stderr, "usage: file_read [size_mib] [rounds] [dir] [tag]\n");
        return 2;
    }
    std::size_t bytes = mib * 1024 * 1024;
    std::string path = dir + "/file_read." + std::to_string(mib) + "MiB.dat";
    if (!has_size(path, bytes)) make_file(path, bytes);
    // Warm the page cache. The kernel's proactive reclaim (DAMON, on some virtual machines) may evict a
    // few pages between reading and checking, so read again a few times; a share below
    // 99% means the file does not fit and the rounds would measure the disk.
    double share = 0;
    for (int attempt = 0; attempt < 5 && share < 1.0; ++attempt) {
        plain_read(path);
        share = cached_share(path, bytes);
    }
    if (share < 0.99) {
        std::fprintf(stderr, "file_read: only %.1f%% of %s is in the page cache after reading it\n",
                     share * 100, path.c_str());
        return 1;
    }

    std::vector<double> plain, read_n, read_into;
    bool short_read = false;
    bool ring = false;
    corio::run([&]() -> corio::task<void> {
        for (int r = 0; r < rounds; ++r) {
            auto t0 = clock_type::now();
            std::size_t a = co_await corio_read(path);
            read_n.push_back(gbps(a, seconds_since(t0)));
            t0 = clock_type::now();
            std::size_t b = co_await corio_readinto(path);
            read_into.push_back(gbps(b, seconds_since(t0)));
            ring = ring || ring_open();
            t0 = clock_type::now();
            std::size_t c = plain_read(path);
            plain.push_back(gbps(c, seconds_since(t0)));
            short_read = short_read || a != bytes || b != bytes || c != bytes;
            std::printf("round %d: read(n) %.2f GB/s, readinto %.2f GB/s, read(2) %.2f GB/s\n", r + 1,
                        read_n.back(), read_into.back(), plain.back());
        }
    }());
    if (short_read) {
        std::fprintf(stderr, "file_read: a pass read the wrong number of bytes\n");
        return 1;
    }
    double p = median(plain), a = median(read_n), b = median(read_into);
    std::printf("file_read: %zu MiB in 256 KiB chunks, medians of %d rounds: read(2) %.2f GB/s; "
                "corio::file read(n) %.2f GB/s (ratio %.2f), readinto %.2f GB/s (ratio %.2f); "
                "target ratio >= 0.80\n",
                mib, rounds, p, a, a / p, b, b / p);
    std::printf("BENCH corio.file_readinto_gbps%s %.3f GB/s\n", tag.c_str(), b);
    std::printf("BENCH corio.file_read_n_gbps%s %.3f GB/s\n", tag.c_str(), a);
    std::printf("BENCH posix.file_read2_gbps%s %.3f GB/s\n", tag.c_str(), p);
    if (!tag.empty()) std::printf("BENCH corio.file_ring_open%s %d\n", tag.c_str(), ring ? 1 : 0);
}
