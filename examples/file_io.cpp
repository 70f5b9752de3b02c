// Async files, aiofiles style.
//
//   file_io                       writes "meoooow" to meo.txt, reads it back, prints it
//   file_io --copy SRC DST [--interval MS]
//                                 copies SRC to DST in 256 KiB chunks while a ticker task
//                                 prints the progress every MS milliseconds (default 100):
//                                 the loop keeps running while the workers do the file I/O
// A copy that does not fit (a full disk, a file size limit) ends with status 1 and an
// error saying how many bytes did not reach the destination.
#include "cli.hpp"

#include <cstring>

#include <corio/corio.hpp>
#include <corio/file.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>

using namespace std::chrono_literals;

namespace {

corio::task<void> meow() {
    corio::file out = co_await corio::open("meo.txt", "w");
    co_await out.write("meoooow");
    co_await out.close();

    corio::file in = co_await corio::open("meo.txt", "r");
    std::string text = co_await in.read();
    co_await in.close();
    std::printf("%s\n", text.c_str());
}

struct progress {
    std::uint64_t copied = 0;
    std::uint64_t total = 0;
};

// Shares the progress (not a reference to it): if the copy fails, its frame goes first.
corio::task<void> ticker(std::shared_ptr<const progress> p, std::chrono::milliseconds interval) {
    for (;;) {
        co_await corio::sleep(interval);
        double pct = p->total ? 100.0 * static_cast<double>(p->copied) / static_cast<double>(p->total) : 100.0;
        std::printf("progress: %llu / %llu bytes (%.0f%%)\n", static_cast<unsigned long long>(p->copied),
                    static_cast<unsigned long long>(p->total), pct);
        std::fflush(stdout);
    }
}

corio::task<void> copy_file(std::string src, std::string dst, std::chrono::milliseconds interval) {
    constexpr std::size_t chunk = 256 * 1024; // what is in memory at a time (plus one read ahead)
    corio::file in = co_await corio::open(src, "rb");
    corio::file out = co_await corio::open(dst, "wb");
    auto p = std::make_shared<progress>();
    p->total = co_await in.size();
    std::printf("copying %s -> %s (%llu bytes)\n", src.c_str(), dst.c_str(),
                static_cast<unsigned long long>(p->total));
    std::fflush(stdout);

    auto start = std::chrono::steady_clock::now();
    auto tick = corio::spawn(ticker(p, interval));
    for (;;) {
        std::string data = co_await in.read(chunk);
        if (data.empty()) break;
        p->copied += data.size();
        co_await out.write(std::move(data));
    }
    co_await out.close();
    co_await in.close();
    tick.cancel();

    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("copied %llu bytes in %.3f s\n", static_cast<unsigned long long>(p->copied), secs);
}

} // namespace

int main(int argc, char** argv) {
    // As Python does: past a file size limit (ulimit -f) a write then fails with EFBIG,
    // reported like a full disk, instead of SIGXFSZ killing the process without a word.
    std::signal(SIGXFSZ, SIG_IGN);
    try {
        cli::args args(argc, argv, "[--copy SRC DST [--interval MS]]");
        const char* src = nullptr;
        const char* dst = nullptr;
        std::chrono::milliseconds interval = 100ms;
        while (const char* a = args.next()) {
            if (!std::strcmp(a, "--copy")) {
                src = args.value(a);
                dst = args.value(a);
            } else if (!std::strcmp(a, "--interval")) {
                interval = std::chrono::milliseconds(args.number(a, 1, 3'600'000));
            } else {
                args.unknown(a);
            }
        }
        if (!src) {
            corio::run(meow());
            return 0;
        }
        corio::run(copy_file(src, dst, interval));
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "file_io: %s\n", e.what());
        return 1;
    }
}
