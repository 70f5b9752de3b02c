#pragma once
// open_connection (asyncio.open_connection): resolves the host and returns a connected
// stream. A name with several addresses is tried with happy eyeballs (RFC 8305,
// happy_eyeballs.hpp): the families interleaved, each attempt given a head start of
// connect_options::happy_eyeballs_delay before the next begins alongside it, the first
// connection winning. A refused connection throws std::system_error (ECONNREFUSED)
// naming the address; when several addresses fail, the message lists each one's error.
// Cancelling it (or bounding it with wait_for, the one timeout for the whole) closes every
// half-open socket.
#include <algorithm>
#include "corio/detail/chrono.hpp"
#include <cstdint>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "corio/net/address.hpp"
#include "corio/net/connect_socket.hpp"
#include "corio/net/happy_eyeballs.hpp"
#include "corio/net/resolve.hpp"
#include "corio/net/stream.hpp"
#include "corio/task.hpp"

namespace corio {

namespace detail {

inline task<stream> connect_any(std::vector<endpoint> addrs, std::string what, connect_options opts) {
    if (addrs.empty()) throw std::invalid_argument("corio: open_connection to no address");
    if (addrs.size() == 1) co_return co_await connect_to(std::move(addrs.front()));
    addrs = interleave_families(std::move(addrs), opts.interleave);
    if (what.empty()) what = std::to_string(addrs.size()) + " addresses";
    std::string tried;
    int last = 0;
    if (opts.happy_eyeballs_delay) {
        auto delay = std::max(*opts.happy_eyeballs_delay, std::chrono::nanoseconds(0));
        stream s = co_await connect_staggered(std::move(addrs), delay, tried, last);
        if (s) co_return s;
    } else {
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
    }
    throw_errno(last, "connect " + what + " (tried " + tried + ")");
}

} // namespace detail

/// Connects to host:port (a name or a numeric address). Several addresses are raced with
/// happy eyeballs as `opts` says (asyncio's happy_eyeballs_delay and interleave, with the
/// delay at RFC 8305's 250 ms by default). Throws std::system_error: the resolver's error,
/// the one address's connect error, or for several, the last one's code with every
/// address's error in the message. Cancelled, it cancels every attempt and closes their
/// sockets; wait_for(open_connection(...), d) bounds the whole.
inline task<stream> open_connection(std::string host, std::uint16_t port, connect_options opts = {}) {
    auto addrs = co_await detail::resolve_for(host, port, false);
    co_return co_await detail::connect_any(std::move(addrs), host + ":" + std::to_string(port), opts);
}

/// Connects to the first of `addrs` that answers, as open_connection(host, port) does with
/// a name's addresses (for addresses known without DNS). Throws std::invalid_argument when
/// `addrs` is empty.
inline task<stream> open_connection(std::vector<endpoint> addrs, connect_options opts = {}) {
    return detail::connect_any(std::move(addrs), std::string(), opts);
}

/// Connects to one known endpoint (for example a server's addresses()[0]).
inline task<stream> open_connection(endpoint to) { return detail::connect_to(std::move(to)); }

} // namespace corio
