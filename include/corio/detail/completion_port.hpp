#pragma once
// What a completion-based backend (io_uring) offers beyond readiness: operations the
// kernel carries out and reports when done. Readiness waits (io_waits) work on every
// backend; an operation that can use a completion port does so when the loop has one
// (event_loop::completions() is not null) and keeps its readiness path otherwise.
#include <cstddef>
#include <cstdint>

#include "corio/detail/io_state.hpp"

namespace corio {
/// The kernel interface a loop waits with. run_options{.backend} and the environment's
/// CORIO_BACKEND (epoll or io_uring) choose; automatic takes io_uring where the kernel
/// allows it and epoll otherwise (kqueue on macOS and the BSDs).
enum class backend : unsigned char { automatic, epoll, kqueue, io_uring };

inline const char* backend_name(backend b) noexcept {
    switch (b) {
    case backend::epoll: return "epoll";
    case backend::kqueue: return "kqueue";
    case backend::io_uring: return "io_uring";
    default: return "automatic";
    }
}
} // namespace corio

namespace corio::detail {

/// An operation in flight on the port. `complete` runs on the loop thread with the
/// kernel's result (a byte count, or a negated errno: -ECANCELED after cancel()). The
/// object must stay alive until then: the kernel reads and writes its buffers until then.
struct port_op {
    void (*complete)(port_op*, int result) noexcept = nullptr;
};

/// What a multishot request produces, one item per completion until it ends.
enum class multishot : unsigned char {
    recv,   // a stream socket's bytes, received ahead of reads into provided buffers
    accept, // a listening socket's new connections
};

/// Where a multishot request delivers: `on_item` per completion (recv: `result` bytes at
/// `data`; accept: `result` is the new descriptor, `data` null), `on_end` once it stops (0
/// at EOF, a negated errno, or -ECANCELED / -ENOBUFS when it merely paused: arming again
/// resumes it). The port wakes the descriptor's parked reader after each.
struct multishot_sink {
    virtual void on_item(int result, const char* data) noexcept = 0;
    virtual void on_end(int result) noexcept = 0;

protected:
    ~multishot_sink() = default;
};

class completion_port {
public:
    /// Starts the descriptor's multishot request unless it runs already (or is still
    /// stopping: its on_end wakes the reader, who arms it again).
    virtual void arm(io_state& s, multishot what, multishot_sink& sink) = 0;
    /// Stops it (the sink has buffered enough); on_end(-ECANCELED) follows.
    virtual void pause(io_state& s) noexcept = 0;
    virtual void send(io_state& s, const char* data, std::size_t n, port_op& op) = 0;
    virtual void read_at(int fd, char* buf, std::size_t n, std::uint64_t offset, port_op& op) = 0;
    virtual void write_at(int fd, const char* buf, std::size_t n, std::uint64_t offset, port_op& op) = 0;
    virtual void fsync(int fd, bool data_only, port_op& op) = 0;
    /// Connects a stream socket; `addr` (of `len` bytes) is read until the completion.
    virtual void connect(int fd, const void* addr, unsigned len, port_op& op) = 0;
    /// Asks the kernel to stop `op`; its completion still comes (-ECANCELED, or its result
    /// when it finished first).
    virtual void cancel(port_op& op) noexcept = 0;

protected:
    ~completion_port() = default;
};

} // namespace corio::detail
