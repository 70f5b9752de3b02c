#pragma once
// stream: a connected TCP or Unix socket with asyncio's StreamReader and StreamWriter
// API in one object (read, readexactly, readline, readuntil, at_eof; write, drain,
// write_eof, close, wait_closed, peername, sockname). The same object serves one end of
// a pipe to a child process (subprocess.hpp): there write_eof() closes the write end, and
// errors name the "pipe".
//
// Reading pulls from the socket only when the buffer cannot satisfy the call, so the
// buffer never holds much more than one readuntil() limit or one readexactly() request.
// The kernel's bytes land in one receive buffer per thread and a connection keeps only
// what it has not handed out yet: an idle connection holds no read buffer at all, and
// read(n) with nothing buffered builds its result straight from the received bytes.
// write() tries the socket at once and buffers only what the kernel did not take; a
// background task sends the rest when the socket becomes writable, so data written and
// never drained still goes out, and close() (or destroying the stream) sends what is
// buffered before closing the descriptor.
//
// Errors: a failed recv/send throws std::system_error naming the peer ("recv from
// 127.0.0.1:5000: Connection reset by peer"); the error sticks, so every later read (or
// write/drain) throws it again. No write ever raises SIGPIPE.
//
// Cancelling a pending operation never loses or corrupts anything:
//   - read/readexactly/readline/readuntil: nothing is consumed until the whole request
//     can be answered, so bytes that arrived stay buffered for the next read;
//   - drain: the write buffer is left as it is and keeps being sent in the background;
//     the stream stays usable (drain again, or close);
//   - write() does not suspend, so there is nothing to cancel.
// One reader and one writer at a time: a second concurrent reader throws logic_error.
// A stream belongs to the loop it was made on: awaiting it from a task on another loop
// (another thread) throws logic_error when that wait would suspend; call_soon_threadsafe
// and to_thread are the ways across.
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "corio/net/address.hpp"
#include "corio/net/sendfile.hpp"
#include "corio/net/stream_core.hpp"
#include "corio/net/stream_ops.hpp"
#include "corio/platform/socket_probe.hpp"
#include "corio/task.hpp"

namespace corio {

class stream {
public:
    stream() noexcept = default;
    explicit stream(std::shared_ptr<detail::stream_core> core) noexcept : core_(std::move(core)) {}
    stream(stream&&) noexcept = default;
    stream& operator=(stream&& o) noexcept {
        if (this != &o) {
            if (core_) core_->close();
            core_ = std::move(o.core_);
        }
        return *this;
    }
    /// Closes (after sending what is buffered, in the background).
    ~stream() {
        if (core_) core_->close();
    }

    bool valid() const noexcept { return core_ != nullptr; }
    explicit operator bool() const noexcept { return valid(); }

    // ---------------------------------------------------------------- reading

    /// Up to n bytes; waits only when nothing is buffered. "" at EOF (or for n == 0).
    detail::read_some_op read(std::size_t n) { return {core(), n}; }
    /// Everything until EOF.
    task<std::string> read() { return detail::read_to_eof(core()); }
    /// Exactly n bytes; at EOF first, incomplete_read_error with the partial bytes (consumed).
    task<std::string> readexactly(std::size_t n) { return detail::read_exactly(core(), n); }
    /// Up to and including `sep`. At EOF first: incomplete_read_error (partial consumed).
    /// No separator within limit(): limit_overrun_error, and the bytes stay buffered.
    task<std::string> readuntil(std::string_view sep = "\n") {
        return detail::read_until(core(), {}, std::string(sep), false);
    }
    /// A line including its "\n"; at EOF the last partial line, then "". Unlike asyncio
    /// (which discards the data and raises ValueError), a line longer than limit() throws
    /// limit_overrun_error and leaves the bytes buffered, as readuntil does.
    task<std::string> readline() { return detail::read_until(core(), "\n", std::string(), true); }
    /// True once EOF was received and everything buffered was read.
    bool at_eof() const { return core().eof && core().available() == 0; }
    /// The readuntil/readline limit (default 64 KiB).
    std::size_t limit() const { return core().limit; }
    void set_limit(std::size_t n) {
        if (n == 0) throw std::invalid_argument("corio: stream limit must be positive");
        core().limit = n;
    }

    // ---------------------------------------------------------------- writing

    /// Sends what the kernel takes now and buffers the rest (never blocks, never SIGPIPE).
    /// Throws std::logic_error after close()/write_eof(), or the stream's write error.
    void write(std::string_view data) { core().write(data, core_); }
    /// Waits while the buffer is above the high-water mark, until it is at or below the
    /// low-water mark; throws the write error if sending failed.
    detail::drain_op drain() { return detail::drain_op(core()); }
    /// Half-close: the peer reads EOF once the buffer is sent; reading still works.
    void write_eof() { core().write_eof(); }
    bool can_write_eof() const noexcept { return true; }
    /// Bytes buffered and not yet accepted by the kernel.
    std::size_t write_buffer_size() const { return core().wsize(); }
    /// asyncio's defaults: high 64 KiB, low high/4.
    void set_write_buffer_limits(std::size_t high, std::size_t low) {
        if (low > high) throw std::invalid_argument("corio: low-water mark above the high-water mark");
        auto& c = core();
        c.high = high;
        c.low = low;
        c.update_paused();
    }
    void set_write_buffer_limits(std::size_t high) { set_write_buffer_limits(high, high / 4); }
    /// (low, high), as asyncio's get_write_buffer_limits().
    std::pair<std::size_t, std::size_t> write_buffer_limits() const { return {core().low, core().high}; }

    /// asyncio's loop.sendfile: sends `count` bytes of the file `fd` from `offset` (nullopt:
    /// to its end) and returns how many were sent, fewer when the file ends first. Bytes
    /// already written go first; write() during the transfer throws std::logic_error. Uses
    /// sendfile(2) on Linux and copies in chunks elsewhere or for files it refuses. The
    /// descriptor's own position is not used or moved. Meant for regular files, read on
    /// the loop's thread as sendfile(2) itself does; a pipe is read where it is, and an
    /// empty one blocks the loop. Throws the stream's write error (sticky, as for write())
    /// when the connection fails, a std::system_error naming the descriptor when reading
    /// the file fails, and std::invalid_argument for a count of 0. Cancelled, it throws
    /// cancelled_error after some prefix of the range has gone out: the peer's view of
    /// the stream is then cut short, so close it.
    task<std::uint64_t> sendfile(int fd, std::uint64_t offset = 0, std::optional<std::uint64_t> count = std::nullopt) {
        core();
        return detail::send_file(core_, fd, offset, count);
    }
    /// The same for a corio::file (anything with native_handle() and flush()): its
    /// buffered writes are flushed first; its position is left as it was.
    template <class File>
        requires requires(File& f) {
            { f.native_handle() } -> std::convertible_to<int>;
            f.flush();
        }
    task<std::uint64_t> sendfile(File& f, std::uint64_t offset = 0, std::optional<std::uint64_t> count = std::nullopt) {
        core();
        return send_file_of(core_, f, offset, count);
    }

    /// Stops reading (a pending read sees EOF after the buffered bytes) and closes once
    /// the write buffer is sent. Idempotent.
    void close() {
        if (core_) core_->close();
    }
    /// Closes now, discarding the write buffer.
    void abort() {
        if (core_) core_->abort();
    }
    bool is_closing() const noexcept { return !core_ || core_->closing; }
    /// Returns once the descriptor is closed (after close() and the buffer is sent).
    task<void> wait_closed() { return detail::wait_closed(core()); }

    // ---------------------------------------------------------------- addresses

    endpoint peername() const { return core().peer; }
    /// Asked of the socket: empty once the stream is closed.
    endpoint sockname() const { return core().local(); }
    /// The socket descriptor (-1 once closed), for setsockopt and the like.
    int native_handle() const noexcept { return core_ ? core_->sock.fd() : -1; }

    /// For connection pools: true when the stream is open, nothing is buffered or queued
    /// in the kernel, and the peer has not closed it or failed, so a new request may use
    /// it. Does not wait and does not consume anything.
    bool idle_and_open() const noexcept {
        if (!core_ || !core_->sock.is_open() || core_->eof || core_->read_error || core_->available() > 0)
            return false;
        return detail::probe_idle_socket(core_->sock.fd()) == detail::idle_socket_state::open;
    }

private:
    template <class File>
    static task<std::uint64_t> send_file_of(std::shared_ptr<detail::stream_core> c, File& f, std::uint64_t offset,
                                            std::optional<std::uint64_t> count) {
        co_await f.flush();
        co_return co_await detail::send_file(std::move(c), f.native_handle(), offset, count);
    }

    detail::stream_core& core() const {
        if (!core_) throw std::logic_error("corio: use of an empty (moved-from) stream");
        return *core_;
    }
    std::shared_ptr<detail::stream_core> core_;
};

} // namespace corio
