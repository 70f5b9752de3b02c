#pragma once
// The library's own exception types. OS failures are std::system_error.
#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace corio {

/// Thrown from the suspended co_await of a task that was cancelled.
class cancelled_error : public std::runtime_error {
public:
    cancelled_error() : std::runtime_error("corio: operation cancelled") {}
};

/// Thrown by wait_for once the inner work has been cancelled and has unwound.
class timeout_error : public std::runtime_error {
public:
    timeout_error() : std::runtime_error("corio: operation timed out") {}
};

/// Several failures raised together (asyncio's ExceptionGroup): what a task_group throws
/// when its body or children failed. Holds every exception in the order it happened (the
/// children's as they finished, the body's last); what() names how many and each one's
/// message. Iterate it, or use exceptions(), and rethrow one with std::rethrow_exception
/// to catch it by type.
class exception_group : public std::runtime_error {
public:
    /// Takes the failures in the order they happened; what() is built here, once.
    explicit exception_group(std::vector<std::exception_ptr> errors)
        : std::runtime_error(summary(errors)), errors_(std::move(errors)) {}

    /// Every failure (asyncio's ExceptionGroup.exceptions).
    const std::vector<std::exception_ptr>& exceptions() const noexcept { return errors_; }
    /// How many failures there are.
    std::size_t size() const noexcept { return errors_.size(); }
    /// Iteration over the failures, in order.
    auto begin() const noexcept { return errors_.begin(); }
    auto end() const noexcept { return errors_.end(); }
    /// The i-th failure; throws std::out_of_range past the end.
    const std::exception_ptr& operator[](std::size_t i) const { return errors_.at(i); }

    /// How many of the exceptions are an E (or derive from it).
    template <class E>
    std::size_t count() const {
        std::size_t n = 0;
        for (const auto& e : errors_) {
            try {
                std::rethrow_exception(e);
            } catch (const E&) {
                ++n;
            } catch (...) {
            }
        }
        return n;
    }

private:
    static std::string summary(const std::vector<std::exception_ptr>& errors) {
        std::string s = "corio: unhandled errors in a task_group (" + std::to_string(errors.size()) +
                        (errors.size() == 1 ? " sub-exception)" : " sub-exceptions)");
        const char* sep = ": ";
        for (const auto& e : errors) {
            s += sep;
            sep = "; ";
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                s += x.what();
            } catch (...) {
                s += "(not a std::exception)";
            }
        }
        return s;
    }

    std::vector<std::exception_ptr> errors_;
};

/// A put on a queue after its shutdown(), or a get once it is shut down and empty
/// (asyncio.QueueShutDown, 3.13). Putters and getters waiting at the shutdown wake with it.
class queue_shut_down : public std::runtime_error {
public:
    queue_shut_down() : std::runtime_error("corio: queue is shut down") {}
};

/// A barrier's wait() on a broken barrier (abort()), or one that was aborted or reset
/// while the task waited in it (asyncio.BrokenBarrierError).
class broken_barrier_error : public std::runtime_error {
public:
    explicit broken_barrier_error(const char* what) : std::runtime_error(what) {}
};

/// readexactly/readuntil hit EOF first; `partial` keeps what was read.
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

/// readuntil/readline found no separator within the stream's limit. The data stays buffered.
class limit_overrun_error : public std::runtime_error {
public:
    limit_overrun_error(std::size_t consumed_bytes, const std::string& what)
        : std::runtime_error("corio: " + what), consumed(consumed_bytes) {}
    std::size_t consumed;
};

/// A write or flush that stopped part-way, as on a full disk (ENOSPC) or past a file size
/// limit (EFBIG). what() says how many bytes did not reach the file ("flush 'out.bin':
/// 4096 of 65536 buffered bytes did not reach the file: No space left on device"); the
/// counts are here too. The kernel took the first bytes_written(); the rest did not land.
class file_write_error : public std::system_error {
public:
    file_write_error(int err, const std::string& what, std::size_t written, std::size_t total)
        : std::system_error(err, std::system_category(), what), written_(written), total_(total) {}
    std::size_t bytes_written() const noexcept { return written_; }
    std::size_t bytes_not_written() const noexcept { return total_ - written_; }

private:
    std::size_t written_, total_;
};

} // namespace corio
