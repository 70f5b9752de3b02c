#pragma once
// One connection attempt to one address: the socket is owned by the connecting frame from
// the start, so cancelling the attempt (or bounding it with wait_for) closes it.
#include <algorithm>
#include "corio/detail/chrono.hpp"
#include <memory>
#include <utility>

#include "corio/detail/port_awaiter.hpp"
#include "corio/io_wait.hpp"
#include "corio/net/address.hpp"
#include "corio/net/stream.hpp"
#include "corio/task.hpp"
#include "corio/time.hpp"

namespace corio::detail {

/// Connects c's socket; 0 or the errno that failed it. On io_uring a TCP connect goes on
/// the ring (a Unix one keeps the path below: a full backlog there is EAGAIN, with nothing
/// to wait on).
inline task<int> connect_socket(stream_core& c, sock_addr to) {
    if (c.port && !is_unix_family(to.family())) {
        c.check_loop();
        auto r = co_await port_awaiter(*c.port, port_awaiter::kind::connect, c.sock.fd(),
                                       reinterpret_cast<char*>(to.get()), to.len, 0);
        co_return r.error;
    }
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

} // namespace corio::detail
