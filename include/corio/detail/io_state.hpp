#pragma once
// Per-descriptor readiness state shared by the reactor backends. A descriptor is
// registered once, edge-triggered for both directions, for its whole life; an operation
// tries its syscall first and parks here only on EAGAIN.
#include <coroutine>

#include "corio/detail/operation.hpp"

namespace corio::detail {

struct io_waiter : cancellable {
    std::coroutine_handle<> handle;
    // When set, an edge calls this (with the waiter) instead of resuming `handle`: an
    // operation that retries its syscall there can park again without waking its task.
    void (*ready_fn)(void*) = nullptr;
    bool hangup = false; // the event carried an error or hang-up
};

struct io_state {
    int fd = -1;
    io_waiter* reader = nullptr;
    io_waiter* writer = nullptr;
    bool registered = false;
};

enum io_event : unsigned { io_readable = 1, io_writable = 2, io_error = 4 };

} // namespace corio::detail
