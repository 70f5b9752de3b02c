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

/// A socket whose bytes the port receives ahead of reads (multishot recv): `on_data` for
/// each chunk as it arrives, `on_end` once the receiving stops (0 at EOF, a negated
/// errno, or -ECANCELED / -ENOBUFS when it merely paused: a later arm_recv resumes it).
/// The port wakes the descriptor's parked reader after each.
struct recv_sink {
    virtual void on_data(const char* data, std::size_t n) noexcept = 0;
    virtual void on_end(int result) noexcept = 0;

protected:
    ~recv_sink() = default;
};

class completion_port {
public:
    /// Starts receiving into `sink` unless it already is (or is still stopping).
    virtual void arm_recv(io_state& s, recv_sink& sink) = 0;
    /// Stops receiving ahead (the sink has buffered enough); on_end(-ECANCELED) follows.
    virtual void pause_recv(io_state& s) noexcept = 0;
    virtual void send(io_state& s, const char* data, std::size_t n, port_op& op) = 0;
    virtual void read_at(int fd, char* buf, std::size_t n, std::uint64_t offset, port_op& op) = 0;
    virtual void write_at(int fd, const char* buf, std::size_t n, std::uint64_t offset, port_op& op) = 0;
    virtual void fsync(int fd, bool data_only, port_op& op) = 0;
    /// Asks the kernel to stop `op`; its completion still comes (-ECANCELED, or its result
    /// when it finished first).
    virtual void cancel(port_op& op) noexcept = 0;

protected:
    ~completion_port() = default;
};

} // namespace corio::detail
