// corio_echo: corio's echo server for the benchmarks, written the way asyncio's is.
//
//   corio_echo PORT [HOST]
#include <sys/resource.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <system_error>

#include "corio/corio.hpp"
#include "corio/net/server.hpp"
#include "corio/net/stream.hpp"

static corio::task<void> echo(corio::stream s) {
    try {
        while (true) {
            std::string data = co_await s.read(65536);
            if (data.empty()) break;
            s.write(data);
            co_await s.drain();
        }
    } catch (const std::system_error&) {
        // a client that resets is not the server's fault
    }
}

static corio::task<void> serve(std::string host, std::uint16_t port) {
    auto srv = co_await corio::start_server(echo, host, port, {.backlog = 4096});
    co_await srv.serve_forever();
}

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: corio_echo PORT [HOST]\n");
        return 2;
    }
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    corio::run(serve(argc > 2 ? argv[2] : "127.0.0.1", static_cast<std::uint16_t>(std::atoi(argv[1]))));
}
