#pragma once
// The datagram calls behind corio::udp_socket: thin wrappers that return -errno instead
// of throwing, so the caller can name the address in its error. Socket creation, address
// conversion and the registered descriptor come from detail/socket.hpp.
#include <cerrno>
#include <cstddef>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "corio/platform/socket_ops.hpp"

namespace corio::detail {

// UDP datagrams carry at most 65507 (IPv4) or 65527 (IPv6) bytes of payload.
inline constexpr std::size_t max_udp_payload = 65535;

inline unique_fd open_datagram_socket(int family) {
    unique_fd fd = open_socket(family, SOCK_DGRAM);
    // Like the TCP listeners: "::" and "0.0.0.0" can be bound side by side, and an IPv6
    // socket never silently talks IPv4 through mapped addresses.
    if (family == AF_INET6) set_int_option(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, 1);
    return fd;
}

inline int bind_address(int fd, const sock_addr& a) noexcept {
    return ::bind(fd, a.get(), a.len) == 0 ? 0 : errno;
}

// A datagram connect only records the peer: it never blocks.
inline int connect_datagram(int fd, const sock_addr& a) noexcept {
    for (;;) {
        if (::connect(fd, a.get(), a.len) == 0) return 0;
        if (errno != EINTR) return errno;
    }
}

// Bytes sent or -errno. `to` null: the connected peer.
inline long send_datagram(int fd, const char* data, std::size_t n, const sock_addr* to) noexcept {
    for (;;) {
        ssize_t r = to ? ::sendto(fd, data, n, send_flags, to->get(), to->len)
                       : ::send(fd, data, n, send_flags);
        if (r >= 0) return static_cast<long>(r);
        if (errno != EINTR) return -errno;
    }
}

// Bytes received or -errno; `truncated` says the datagram was longer than `n` (the rest
// is gone, as with any datagram read). `from` may be null.
inline long recv_datagram(int fd, char* buf, std::size_t n, sock_addr* from,
                          bool& truncated) noexcept {
    for (;;) {
        iovec iov{buf, n};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        if (from) {
            *from = sock_addr{};
            msg.msg_name = &from->storage;
            msg.msg_namelen = sizeof from->storage;
        }
        ssize_t r = ::recvmsg(fd, &msg, 0);
        if (r >= 0) {
            if (from) from->len = msg.msg_namelen;
            truncated = (msg.msg_flags & MSG_TRUNC) != 0;
            return static_cast<long>(r);
        }
        if (errno != EINTR) return -errno;
    }
}

} // namespace corio::detail
