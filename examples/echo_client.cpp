// Connects N clients at once (gather), each sends the message and prints what comes back.
//   echo_client [--host 127.0.0.1] [--port 8888] [--message TEXT] [--clients N]
// Exits with 1 when any echo differs from the message (or a connection fails).
#include "cli.hpp"

#include <corio/corio.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

corio::task<bool> one_client(std::string host, std::uint16_t port, std::string message, int id) {
    corio::stream s = co_await corio::open_connection(host, port);
    s.write(message);
    co_await s.drain();
    std::string reply;
    try {
        reply = co_await s.readexactly(message.size());
    } catch (const corio::incomplete_read_error& e) { // the server closed early
        reply = e.partial;
    }
    std::printf("client %d: received '%s'\n", id, reply.c_str());
    co_return reply == message;
}

corio::task<int> run_clients(std::string host, std::uint16_t port, std::string message, int n) {
    std::vector<corio::task<bool>> clients;
    for (int i = 0; i < n; ++i) clients.push_back(one_client(host, port, message, i));
    std::vector<bool> ok = co_await corio::gather(std::move(clients));
    int bad = 0;
    for (bool b : ok) bad += !b;
    if (bad) std::printf("%d of %d echoes differed\n", bad, n);
    co_return bad ? 1 : 0;
}

int main(int argc, char** argv) {
    std::string host = "127.0.0.1", message = "Hello World!";
    int port = 8888, clients = 1;
    cli::args args(argc, argv, "[--host HOST] [--port PORT] [--message TEXT] [--clients N]");
    while (const char* a = args.next()) {
        if (!std::strcmp(a, "--host"))
            host = args.value(a);
        else if (!std::strcmp(a, "--port"))
            port = static_cast<int>(args.number(a, 1, 65535));
        else if (!std::strcmp(a, "--message"))
            message = args.value(a);
        else if (!std::strcmp(a, "--clients"))
            clients = static_cast<int>(args.number(a, 1, 100000));
        else
            args.unknown(a);
    }
    try {
        return corio::run(run_clients(host, static_cast<std::uint16_t>(port), message, clients));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo_client: %s\n", e.what());
        return 1;
    }
}
