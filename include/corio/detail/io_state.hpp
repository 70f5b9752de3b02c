#pragma once
// Per-descriptor readiness state shared by the reactor backends. A descriptor is
// registered once, edge-triggered for both directions, for its whole life; an operation
// tries its syscall first and parks here only on EAGAIN.
#include <coroutine>

#include "corio/detail/operation.hpp"

namespace corio {
class event_loop;
}

namespace corio::detail {

struct io_waiter : cancellable {
    std::coroutine_handle<> handle;
    // When set, an edge calls this (with the waiter) instead of resuming `handle`: an
    // operation that retries its syscall there can park again without waking its task.
    void (*ready_fn)(void*) = nullptr;
    bool hangup = false; // the event carried an error or hang-up
    // Not counted as outstanding I/O: a watch the loop keeps for itself (a child process's
    // exit), which must not keep the loop's shutdown waiting.
    bool background = false;
};

// What errors call a descriptor.
enum class io_kind : unsigned char { descriptor, stream, listener, datagram, pipe };

inline const char* io_kind_name(io_kind k) noexcept {
    switch (k) {
    case io_kind::stream: return "stream";
    case io_kind::listener: return "listening socket";
    case io_kind::datagram: return "UDP socket";
    case io_kind::pipe: return "pipe";
    default: return "descriptor";
    }
}

// Laid out so the loop pointer and the kind fit where padding was: a connection pays for
// every byte of it.
struct io_state {
    io_waiter* reader = nullptr;
    io_waiter* writer = nullptr;
    // The loop whose reactor reports it (null before registration and after that loop
    // ended): only that loop's tasks may wait on it, as only that thread sees its edges.
    event_loop* loop = nullptr;
    int fd = -1;
    io_kind kind = io_kind::descriptor;
    bool registered = false;
};

enum io_event : unsigned { io_readable = 1, io_writable = 2, io_error = 4 };

} // namespace corio::detail
