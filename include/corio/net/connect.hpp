#pragma once
// open_connection (asyncio.open_connection): resolves the host, tries each address in
// turn and returns a connected stream. A refused connection throws std::system_error
// (ECONNREFUSED) naming the address. Cancelling it (or bounding it with wait_for) closes
// the half-open socket: the descriptor is owned by the connecting frame from the start.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "corio/detail/chrono.hpp"
#include "corio/net/registered_socket.hpp"
#include "corio/net/address.hpp"
#include "corio/net/resolve.hpp"
#include "corio/net/stream.hpp"
#include "corio/task.hpp"
#include "corio/time.hpp"

namespace corio {

namespace detail {

/// Connects c's socket; 0 or the errno that failed it.
inline task<int> connect_socket(stream_core& c, sock_addr to) {
    int err = connect_start(c.sock.fd(), to);
    if (err == 0) co_return 0;
    if (err == EAGAIN && is_unix_family(to.family())) {
        // A Unix listener with a full backlog: nothing to wait on, so retry gently.
        auto delay = std::chrono::milliseconds(1);
        while (err == EAGAIN) {
            co_await sleep(delay);
            delay = std::min(delay * 2, std::chrono::milliseconds(100));
            err = connect_start(c.sock.fd(), to);
        }
        co_return err == EISCONN ? 0 : err;
    }
    if (err != EINPROGRESS) co_return err;
    for (;;) {
        co_await writable(c.sock.io);
        if (!c.sock.is_open()) co_return ECONNABORTED;
        err = socket_error(c.sock.fd());
        if (err) co_return err;
        sock_addr peer;
        if (peer_address(c.sock.fd(), peer)) co_return 0;
        if (errno != ENOTCONN) co_return errno;
        // Woken before the handshake finished (a stale edge): keep waiting.
    }
}

inline task<stream> connect_to(endpoint to) {
    sock_addr sa = to_sock_addr(to);
    auto core = std::make_shared<stream_core>(open_stream_socket(sa.family()), sa.family());
    int err = co_await connect_socket(*core, sa);
    if (err) throw_errno(err, "connect " + to.to_string());
    core->set_addresses(to);
    co_return stream(std::move(core));
}

inline task<stream> connect_any(std::vector<endpoint> addrs, std::string what) {
    std::string tried;
    int last = 0;
    for (const endpoint& to : addrs) {
        sock_addr sa = to_sock_addr(to);
        auto core = std::make_shared<stream_core>(open_stream_socket(sa.family()), sa.family());
        int err = co_await connect_socket(*core, sa);
        if (err == 0) {
            core->set_addresses(to);
            co_return stream(std::move(core));
        }
        if (!tried.empty()) tried += "; ";
        tried += to.to_string() + ": " + std::system_category().message(err);
        last = err;
    }
    if (addrs.size() == 1) throw_errno(last, "connect " + addrs.front().to_string());
    throw_errno(last, "connect " + what + " (tried " + tried + ")");
}

} // namespace detail

/// Connects to host:port (a name or a numeric address), trying each address in turn.
inline task<stream> open_connection(std::string host, std::uint16_t port) {
    auto addrs = co_await detail::resolve_for(host, port, false);
    co_return co_await detail::connect_any(std::move(addrs), host + ":" + std::to_string(port));
}

/// Connects to one known endpoint (for example a server's addresses()[0]).
inline task<stream> open_connection(endpoint to) { return detail::connect_to(std::move(to)); }

} // namespace corio
