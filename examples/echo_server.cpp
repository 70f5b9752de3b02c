// The classic asyncio TCP echo server: every client gets back each byte it sends.
//   echo_server [--host 127.0.0.1] [--port 8888] [--backlog N] [--quiet] [--debug]
// Prints "Serving on HOST:PORT" once listening (port 0 picks a free one), a line per
// client connecting and leaving unless --quiet. --backlog sets the listen queue (default
// SOMAXCONN; the kernel caps it at net.core.somaxconn). Ctrl-C (SIGINT) or SIGTERM closes
// the server, cancels the live clients and waits for them before exiting. --debug runs
// in corio's debug mode (slow steps reported) and prints the tree of tasks on SIGQUIT
// (Ctrl-\); the tree needs the task records, which examples/CMakeLists.txt compiles in
// (-DCORIO_DEBUG=1).
#include "cli.hpp"

#include <corio/debug.hpp>
#include <corio/gather.hpp>
#include <corio/net.hpp>
#include <corio/run.hpp>
#include <corio/signal.hpp>

#include <charconv>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

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

// Every SIGQUIT prints the tasks: which client waits where.
corio::task<void> dump_on_sigquit(corio::signal_set& quit) {
    for (;;) {
        (void)co_await quit.wait();
        std::printf("Tasks:\n");
        corio::dump_tasks(stdout);
    }
}

corio::task<void> serve(std::string host, std::uint16_t port, corio::server_options opts, bool quiet,
                        bool debug) {
    auto handler = [quiet](corio::stream s) { return handle_client(std::move(s), quiet); };
    auto server = co_await corio::start_server(std::move(handler), host, port, opts);
    // Watch SIGTERM before announcing the server, so a SIGTERM sent right after the
    // "Serving on" line is never lost.
    corio::signal_set term{SIGTERM};
    std::optional<corio::signal_set> quit;
    corio::task_handle<void> dumper;
    if (debug) {
        quit.emplace(std::initializer_list<int>{SIGQUIT});
        dumper = corio::spawn(dump_on_sigquit(*quit), {.name = "SIGQUIT dump"});
    }
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
    dumper.cancel();
    say("Terminated: server closed");
}

int main(int argc, char** argv) {
    std::string host = "127.0.0.1";
    int port = 8888;
    corio::server_options opts;
    bool quiet = false;
    bool debug = false;
    cli::args args(argc, argv, "[--host HOST] [--port PORT] [--backlog N] [--quiet] [--debug]");
    while (const char* a = args.next()) {
        std::string_view arg = a;
        if (arg == "--host")
            host = args.value(a);
        else if (arg == "--port")
            port = static_cast<int>(args.number(a, 0, 65535));
        else if (arg == "--backlog")
            opts.backlog = static_cast<int>(args.number(a, 1, 1 << 30));
        else if (arg == "--quiet")
            quiet = true;
        else if (arg == "--debug")
            debug = true;
        else
            args.unknown(a);
    }
    try {
        corio::run(serve(host, static_cast<std::uint16_t>(port), opts, quiet, debug), {.debug = debug});
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo_server: %s\n", e.what());
        return 1;
    }
}
