#pragma once
// A non-blocking look at an idle keep-alive connection before it is reused: the peer may
// have closed it (or, misbehaving, sent bytes nobody asked for) while it sat in a pool.
#include <cerrno>
#include <sys/socket.h>
#include <sys/types.h>

namespace corio::detail {

enum class idle_socket_state { open, closed, unexpected_data };

inline idle_socket_state probe_idle_socket(int fd) noexcept {
    if (fd < 0) return idle_socket_state::closed;
    char c;
    for (;;) {
        ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n > 0) return idle_socket_state::unexpected_data;
        if (n == 0) return idle_socket_state::closed;
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? idle_socket_state::open : idle_socket_state::closed;
    }
}

} // namespace corio::detail
