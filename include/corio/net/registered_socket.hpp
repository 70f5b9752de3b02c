#pragma once
// `registered_socket`, the one owner of a socket descriptor: registered with the reactor
// once at birth, deregistered and closed exactly once, also when the loop ends before its
// owner does.
#include "corio/detail/intrusive_list.hpp"
#include "corio/detail/io_state.hpp"
#include "corio/io_wait.hpp"
#include "corio/loop.hpp"
#include "corio/platform/socket_ops.hpp"

namespace corio::detail {

class registered_socket;

/// Closes the sockets still open when their loop ends (an object that outlived run()),
/// so no descriptor leaks and no destructor later touches a dead loop.
class socket_registry final : public loop_service {
public:
    explicit socket_registry(event_loop&) noexcept {}
    ~socket_registry() override { shutdown(); }
    void shutdown() noexcept override;

    intrusive_list<registered_socket> live;
};

class registered_socket : public list_hook {
public:
    /// Takes the descriptor and registers it with the running loop (once, for its life).
    registered_socket(unique_fd fd, io_kind kind) {
        event_loop& loop = event_loop::current();
        socket_registry& registry = loop.service<socket_registry>();
        io.fd = fd.get();
        io.kind = kind;
        loop.register_io(io); // throws: `fd` still owns the descriptor and closes it
        fd.release();
        registry.live.push_back(*this);
    }
    ~registered_socket() { close_quietly(); }
    registered_socket(const registered_socket&) = delete;
    registered_socket& operator=(const registered_socket&) = delete;

    int fd() const noexcept { return io.fd; }
    bool is_open() const noexcept { return io.fd >= 0; }
    /// Only while open: a socket closed when its loop ended has none.
    event_loop& loop() const noexcept { return *io.loop; }

    /// Wakes a task parked on the descriptor (it retries, sees the socket closed and stops),
    /// then closes it.
    void close_and_wake() noexcept {
        if (io.fd < 0) return;
        io.loop->io_waits().wake(io, io_error | io_readable | io_writable);
        close_quietly();
    }

    /// Closes without touching parked waiters: for destructors, where a waiter can only
    /// belong to a frame being destroyed with this object, and for loop teardown.
    void close_quietly() noexcept {
        if (io.fd < 0) return;
        io.loop->io_waits().forget(io);
        io.loop->deregister_io(io);
        close_fd(io.fd);
        io.fd = -1;
        if (linked()) intrusive_list<registered_socket>::erase(*this);
    }

    io_state io;
};

inline void socket_registry::shutdown() noexcept {
    while (!live.empty()) {
        registered_socket& s = live.front();
        s.close_quietly();
        s.io.loop = nullptr; // the loop is going: a later wait must not read it
    }
}

} // namespace corio::detail
