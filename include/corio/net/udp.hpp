#pragma once
// udp_socket: datagrams over IPv4 or IPv6 (asyncio's create_datagram_endpoint, as
// awaitable calls rather than a protocol class).
//
//     auto server = co_await corio::udp_socket::bind("127.0.0.1", 0);
//     auto client = co_await corio::udp_socket::connect("127.0.0.1", server.sockname().port());
//     co_await client.send("ping");
//     corio::datagram d = co_await server.recv_from();      // d.data, d.from
//     co_await server.send_to("pong", d.from);
//     std::string reply = co_await client.recv();
//
// Each call tries the syscall first and waits for readiness only when the kernel says
// EAGAIN; the descriptor is registered with the reactor once, for the socket's life.
// A datagram is sent whole or not at all; a receive returns one datagram (cut to the size
// asked for, with `truncated` set). An IPv6 socket is IPv6-only.
//
// Errors are std::system_error naming the address ("send_to [::1]:9: Network is
// unreachable"). On a connected socket an ICMP "port unreachable" from the peer shows up
// as ECONNREFUSED on the next send or receive; the socket stays usable afterwards.
//
// Cancelling a pending receive consumes nothing (the next receive gets the datagram);
// cancelling a pending send sends nothing. Either way the socket stays usable. close()
// (or destroying the socket) wakes a pending receive or send, which then throws
// std::system_error(EBADF). One receiver and one sender at a time: a second concurrent
// receive throws std::logic_error. Data passed to send/send_to is a view: keep it alive
// until the co_await returns.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "corio/net/registered_socket.hpp"
#include "corio/platform/udp_socket.hpp"
#include "corio/loop.hpp"
#include "corio/net/address.hpp"
#include "corio/net/resolve.hpp"
#include "corio/task.hpp"

namespace corio {

/// One received datagram.
struct datagram {
    std::string data;
    endpoint from;
    bool truncated = false; // longer than the size asked for: the rest was discarded
};

namespace detail {

/// Shared by the socket and its pending operations, so a socket closed or destroyed while
/// a task waits on it is still there when that task wakes up to find it closed.
struct udp_core {
    udp_core(unique_fd fd, int fam) : sock(std::move(fd), io_kind::datagram), family(fam) {}

    registered_socket sock;
    int family;
    endpoint local;
    std::optional<endpoint> peer;
    std::unique_ptr<char[]> buf; // receive buffer, reused
    std::size_t buf_size = 0;

    char* buffer(std::size_t n) {
        if (n > buf_size) {
            buf = std::make_unique<char[]>(n);
            buf_size = n;
        }
        return buf.get();
    }

    void refresh_local() {
        sock_addr a;
        if (local_address(sock.fd(), a)) local = to_endpoint(a);
    }

    std::string name() const { return "UDP socket " + local.to_string(); }

    void check_open(const char* op) const {
        if (!sock.is_open())
            throw std::logic_error(std::string("corio: ") + op + "() on a closed UDP socket");
    }
    /// After a wait: the socket may have been closed meanwhile.
    void check_not_closed_while_waiting(const char* op) const {
        if (!sock.is_open())
            throw std::system_error(EBADF, std::system_category(),
                                    std::string(op) + ": UDP socket closed while waiting");
    }

    /// The sockaddr for `to`, refusing what this socket cannot reach.
    sock_addr target(const endpoint& to, const char* op) const {
        if (!to.is_ip())
            throw std::invalid_argument(std::string("corio: ") + op + " to '" + to.to_string() +
                                        "': not an IP endpoint");
        if (to.is_v6() != (family == AF_INET6))
            throw std::system_error(EAFNOSUPPORT, std::system_category(),
                                    std::string(op) + " " + to.to_string() + " from an IPv" +
                                        (family == AF_INET6 ? "6" : "4") + " UDP socket");
        return to_sock_addr(to);
    }
};

inline std::shared_ptr<udp_core> open_udp(int family) {
    return std::make_shared<udp_core>(open_datagram_socket(family), family);
}

/// 0 or the errno bind failed with.
inline int try_bind(udp_core& c, const endpoint& local) {
    int err = bind_address(c.sock.fd(), to_sock_addr(local));
    if (err == 0) c.refresh_local();
    return err;
}

inline task<void> udp_send(std::shared_ptr<udp_core> c, std::string_view data,
                           std::optional<endpoint> to) {
    const char* op = to ? "send_to" : "send";
    c->check_open(op);
    std::optional<sock_addr> sa;
    if (to) sa = c->target(*to, op);
    else if (!c->peer)
        throw std::logic_error("corio: send() on a UDP socket that is not connected (use send_to)");
    for (;;) {
        long n = send_datagram(c->sock.fd(), data.data(), data.size(), sa ? &*sa : nullptr);
        if (n >= 0) co_return;
        int err = static_cast<int>(-n);
        if (!would_block(err)) {
            if (to) throw_errno(err, "send_to " + to->to_string());
            throw_errno(err, "send to " + c->peer->to_string());
        }
        co_await writable(c->sock.io);
        c->check_not_closed_while_waiting(op);
    }
}

inline task<datagram> udp_recv(std::shared_ptr<udp_core> c, std::size_t max, const char* op) {
    c->check_open(op);
    std::size_t room = std::min(max, max_udp_payload);
    for (;;) {
        sock_addr from;
        bool truncated = false;
        char* buf = c->buffer(std::max<std::size_t>(room, 1));
        long n = recv_datagram(c->sock.fd(), buf, room, &from, truncated);
        if (n >= 0) {
            std::string data(buf, static_cast<std::size_t>(n));
            co_return datagram{std::move(data), to_endpoint(from), truncated};
        }
        int err = static_cast<int>(-n);
        if (!would_block(err)) {
            if (c->peer) throw_errno(err, "recv from " + c->peer->to_string());
            throw_errno(err, std::string(op) + " on " + c->name());
        }
        co_await readable(c->sock.io);
        c->check_not_closed_while_waiting(op);
    }
}

inline task<std::string> udp_recv_data(std::shared_ptr<udp_core> c, std::size_t max) {
    datagram d = co_await udp_recv(std::move(c), max, "recv");
    co_return std::move(d.data);
}

inline std::string host_port(const std::string& host, std::uint16_t port) {
    bool bare_v6 = host.find(':') != std::string::npos && host.front() != '[';
    return (bare_v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

} // namespace detail

class udp_socket {
public:
    udp_socket() noexcept = default; // empty: assign a bound or connected socket to it
    udp_socket(udp_socket&&) noexcept = default;
    udp_socket& operator=(udp_socket&& o) noexcept {
        if (this != &o) {
            close();
            core_ = std::move(o.core_);
        }
        return *this;
    }
    ~udp_socket() { close(); }

    /// A socket bound to `local` (port 0 picks a free port; see sockname()).
    static udp_socket bind(const endpoint& local) {
        if (!local.is_ip())
            throw std::invalid_argument("corio: UDP bind to '" + local.to_string() +
                                        "': not an IP endpoint");
        auto c = detail::open_udp(local.is_v6() ? AF_INET6 : AF_INET);
        if (int err = detail::try_bind(*c, local))
            detail::throw_errno(err, "bind " + local.to_string());
        return udp_socket(std::move(c));
    }

    /// A socket bound to host:port. `host` is a numeric address or a name (resolved off the
    /// loop thread; the first address that binds wins); "" means every IPv4 interface
    /// ("::" for IPv6).
    static task<udp_socket> bind(std::string host, std::uint16_t port) {
        if (host.empty()) co_return bind(endpoint(ip_address::any_v4(), port));
        std::vector<endpoint> addrs = co_await detail::resolve_for(host, port, true);
        int last = 0;
        for (const endpoint& a : addrs) {
            auto c = detail::open_udp(a.is_v6() ? AF_INET6 : AF_INET);
            last = detail::try_bind(*c, a);
            if (last == 0) co_return udp_socket(std::move(c));
        }
        detail::throw_errno(last, "bind " + detail::host_port(host, port));
    }

    /// A socket connected to host:port: send() and recv() talk to that peer only, and
    /// datagrams from anyone else are dropped by the kernel. The local address is chosen
    /// by the system.
    static task<udp_socket> connect(std::string host, std::uint16_t port) {
        std::vector<endpoint> addrs = co_await detail::resolve_for(host, port, false);
        int last = 0;
        std::string tried;
        for (const endpoint& a : addrs) {
            udp_socket s(detail::open_udp(a.is_v6() ? AF_INET6 : AF_INET));
            last = s.connect_errno(a);
            if (last == 0) co_return s;
            if (!tried.empty()) tried += "; ";
            tried += a.to_string() + ": " + std::system_category().message(last);
        }
        if (addrs.size() == 1) detail::throw_errno(last, "connect " + addrs.front().to_string());
        detail::throw_errno(last,
                            "connect " + detail::host_port(host, port) + " (tried " + tried + ")");
    }

    /// Connects this socket to `remote` (again, to change peers).
    void connect(const endpoint& remote) {
        if (int err = connect_errno(remote))
            detail::throw_errno(err, "connect " + remote.to_string());
    }

    /// Sends one datagram to `to`.
    task<void> send_to(std::string_view data, const endpoint& to) {
        return detail::udp_send(core_checked(), data, to);
    }
    /// Receives one datagram (at most `max` bytes of it) and who sent it.
    task<datagram> recv_from(std::size_t max = detail::max_udp_payload) {
        return detail::udp_recv(core_checked(), max, "recv_from");
    }

    /// Connected sockets: one datagram to / from the peer.
    task<void> send(std::string_view data) {
        return detail::udp_send(core_checked(), data, std::nullopt);
    }
    task<std::string> recv(std::size_t max = detail::max_udp_payload) {
        return detail::udp_recv_data(core_checked(), max);
    }

    endpoint sockname() const { return core().local; }
    /// The connected peer, or nullopt.
    std::optional<endpoint> peername() const { return core().peer; }

    bool is_open() const noexcept { return core_ && core_->sock.is_open(); }
    /// Closes the descriptor; a pending send or receive wakes and throws. Idempotent.
    void close() noexcept {
        if (core_) core_->sock.close_and_wake();
    }
    /// The descriptor (-1 once closed), for setsockopt (SO_BROADCAST, multicast, ...).
    int native_handle() const noexcept { return core_ ? core_->sock.fd() : -1; }

private:
    explicit udp_socket(std::shared_ptr<detail::udp_core> c) noexcept : core_(std::move(c)) {}

    int connect_errno(const endpoint& remote) {
        detail::udp_core& c = core();
        c.check_open("connect");
        detail::sock_addr sa = c.target(remote, "connect");
        int err = detail::connect_datagram(c.sock.fd(), sa);
        if (err) return err;
        c.peer = remote;
        c.refresh_local();
        return 0;
    }

    detail::udp_core& core() const {
        if (!core_) throw std::logic_error("corio: use of an empty (moved-from) udp_socket");
        return *core_;
    }
    const std::shared_ptr<detail::udp_core>& core_checked() const {
        core();
        return core_;
    }

    std::shared_ptr<detail::udp_core> core_;
};

} // namespace corio
