#pragma once
// The library's own exception types. OS failures are std::system_error.
#include <stdexcept>
#include <string>

namespace corio {

// Thrown from the suspended co_await of a task that was cancelled.
class cancelled_error : public std::runtime_error {
public:
    cancelled_error() : std::runtime_error("corio: operation cancelled") {}
};

// Thrown by wait_for once the inner work has been cancelled and has unwound.
class timeout_error : public std::runtime_error {
public:
    timeout_error() : std::runtime_error("corio: operation timed out") {}
};

// readexactly/readuntil hit EOF first; `partial` keeps what was read.
class incomplete_read_error : public std::runtime_error {
public:
    incomplete_read_error(std::string partial_bytes, std::size_t expected_bytes)
        : std::runtime_error("corio: incomplete read: got " + std::to_string(partial_bytes.size()) +
                             " bytes, expected " +
                             (expected_bytes ? std::to_string(expected_bytes) : std::string("more"))),
          partial(std::move(partial_bytes)), expected(expected_bytes) {}
    std::string partial;
    std::size_t expected; // 0 when unknown (readuntil)
};

// readuntil/readline found no separator within the stream's limit. The data stays buffered.
class limit_overrun_error : public std::runtime_error {
public:
    limit_overrun_error(std::size_t consumed_bytes, const std::string& what)
        : std::runtime_error("corio: " + what), consumed(consumed_bytes) {}
    std::size_t consumed;
};

} // namespace corio
