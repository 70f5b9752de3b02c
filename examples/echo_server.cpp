// The classic asyncio TCP echo server: every client gets back each byte it sends.
//   echo_server [--host 127.0.0.1] [--port 8888] [--quiet]
// Prints "Serving on HOST:PORT" once listening (port 0 picks a free one), a line per
// client connecting and leaving unless --quiet. Ctrl-C (SIGINT) or SIGTERM closes the
// server, cancels the live clients and waits for them before exiting.
#include <corio/gather.hpp>
#include <corio/net.hpp>
#include <corio/run.hpp>
#include <corio/signal.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

void say(const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout); // shown at once even when stdout is a pipe
}

corio::task<void> handle_client(corio::stream s, bool quiet) {
    std::string peer = s.peername().to_string();
    if (!quiet) say("client " + peer + " connected");
    try {
        for (;;) {
            std::string data = co_await s.read(64 * 1024);
            if (data.empty()) break; // the client closed its side
            s.write(data);
            co_await s.drain();
        }
    } catch (const corio::cancelled_error&) { // the server is closing
        if (!quiet) say("client " + peer + " disconnected (server closing)");
        throw;
    } catch (const std::system_error& e) { // reset by the client, ...
        if (!quiet) say("client " + peer + ": " + e.what());
    }
    if (!quiet) say("client " + peer + " disconnected");
}

corio::task<void> serve(std::string host, std::uint16_t port, bool quiet) {
    auto handler = [quiet](corio::stream s) { return handle_client(std::move(s), quiet); };
    auto server = co_await corio::start_server(std::move(handler), host, port);
    // Watch SIGTERM before announcing the server, so a SIGTERM sent right after the
    // "Serving on" line is never lost.
    corio::signal_set term{SIGTERM};
    std::string addresses;
    for (auto& a : server.addresses()) addresses += (addresses.empty() ? "" : ", ") + a.to_string();
    say("Serving on " + addresses);

    // SIGTERM ends the race; Ctrl-C makes corio::run cancel this task. Either way
    // serve_forever's cancellation closes the server and waits for the clients.
    try {
        co_await corio::race(server.serve_forever(), term.wait());
    } catch (const corio::cancelled_error&) {
        say("Interrupted: server closed");
        throw; // run() then ends the process as killed by SIGINT, like Python does
    }
    say("Terminated: server closed");
}

int main(int argc, char** argv) {
    std::string host = "127.0.0.1";
    int port = 8888;
    bool quiet = false;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--host") && i + 1 < argc)
            host = argv[++i];
        else if (!std::strcmp(argv[i], "--port") && i + 1 < argc)
            port = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--quiet"))
            quiet = true;
        else {
            std::fprintf(stderr, "usage: %s [--host HOST] [--port PORT] [--quiet]\n", argv[0]);
            return 2;
        }
    }
    if (port < 0 || port > 65535) {
        std::fprintf(stderr, "echo_server: bad port %d\n", port);
        return 2;
    }
    try {
        corio::run(serve(host, static_cast<std::uint16_t>(port), quiet));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo_server: %s\n", e.what());
        return 1;
    }
}
