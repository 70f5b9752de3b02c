// The classic asyncio demo: two counters, run one after the other (--sync, ~10 ticks)
// or interleaved on one event loop with gather (~5 ticks).
//   count [--sync] [--interval MS]
#include "cli.hpp"

#include <corio/corio.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace std::chrono;

corio::task<void> count(int first, milliseconds tick) {
    for (int i = first; i < first + 5; ++i) {
        std::printf("%d\n", i);
        std::fflush(stdout);
        co_await corio::sleep(tick);
    }
}

corio::task<void> main_task(bool sync, milliseconds tick) {
    if (sync) {
        co_await count(0, tick);
        co_await count(10, tick);
    } else {
        co_await corio::gather(count(0, tick), count(10, tick));
    }
}

int main(int argc, char** argv) {
    bool sync = false;
    milliseconds tick{1000};
    cli::args args(argc, argv, "[--sync] [--interval MS]");
    while (const char* a = args.next()) {
        if (!std::strcmp(a, "--sync"))
            sync = true;
        else if (!std::strcmp(a, "--interval"))
            tick = milliseconds(args.number(a, 0, 3'600'000));
        else
            args.unknown(a);
    }
    auto start = steady_clock::now();
    corio::run(main_task(sync, tick));
    std::printf("%s run finished in %.2f s\n", sync ? "sync" : "async",
                duration<double>(steady_clock::now() - start).count());
}
