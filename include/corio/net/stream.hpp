#pragma once
// stream: a connected TCP or Unix socket with asyncio's StreamReader and StreamWriter
// API in one object (read, readexactly, readline, readuntil, at_eof; write, drain,
// write_eof, close, wait_closed, peername, sockname).
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
#include <algorithm>
#include <coroutine>
#include <cstddef>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "corio/detail/socket.hpp"
#include "corio/errors.hpp"
#include "corio/event.hpp"
#include "corio/loop.hpp"
#include "corio/net/address.hpp"
#include "corio/spawn.hpp"
#include "corio/task.hpp"

namespace corio {

inline constexpr std::size_t default_stream_limit = 64 * 1024;
inline constexpr std::size_t default_write_high_water = 64 * 1024;

namespace detail {

// Large enough for one recv to take what a busy socket has queued; allocated once per
// thread (not zero-filled) and only ever used between a recv and the copy that follows it.
inline constexpr std::size_t recv_scratch_size = 64 * 1024;

inline char* allocate_recv_scratch() {
    thread_local std::unique_ptr<char[]> owner(new char[recv_scratch_size]);
    return owner.get();
}

inline char* recv_scratch() {
    thread_local char* buf = nullptr; // trivially initialized: no guard on the hot path
    if (!buf) [[unlikely]]
        buf = allocate_recv_scratch();
    return buf;
}

class stream_core {
public:
    stream_core(unique_fd fd, int family) : sock(std::move(fd), io_kind::stream) {
        prepare_stream_socket(sock.fd(), family);
    }
    stream_core(const stream_core&) = delete;
    stream_core& operator=(const stream_core&) = delete;

    // Called once connected or accepted. `peer_hint` is used when getpeername cannot help
    // (an unnamed Unix peer is ""). The peer is kept because error messages name it after
    // a reset, when getpeername no longer can; the local address is asked of the socket
    // when wanted, as an idle connection pays for every byte it keeps.
    void set_addresses(const endpoint& peer_hint) { peer = peer_hint; }

    endpoint local() const {
        sock_addr a;
        return sock.is_open() && local_address(sock.fd(), a) ? to_endpoint(a) : endpoint();
    }

    // What error messages call this stream.
    std::string name() const {
        std::string p = peer.to_string();
        if (!p.empty()) return p;
        std::string l = local().to_string(); // an accepted Unix connection: the server's path
        return l.empty() ? std::string("socket") : l;
    }

    // ------------------------------------------------------------ read buffer
    std::size_t available() const noexcept { return rbuf.size() - rbeg; }
    const char* rdata() const noexcept { return rbuf.data() + rbeg; }

    std::string take(std::size_t n) {
        if (rbeg == 0 && n == rbuf.size() && n >= keep_capacity) return std::exchange(rbuf, std::string());
        std::string out(rdata(), n);
        rbeg += n;
        if (rbeg == rbuf.size()) {
            rbeg = 0;
            if (rbuf.capacity() > keep_capacity) std::string().swap(rbuf); // idle costs nothing
            else rbuf.clear(); // small: kept, so line-by-line reading does not churn malloc
        }
        return out;
    }

    // Drops the consumed prefix only when it is at least as long as what remains, so each
    // byte moved was paid for by a byte consumed: reading stays linear.
    void append(const char* p, std::size_t n) {
        if (rbeg > 0 && rbeg >= available() && rbuf.size() + n > rbuf.capacity()) {
            rbuf.erase(0, rbeg);
            rbeg = 0;
        }
        rbuf.append(p, n);
    }

    [[noreturn]] void throw_read_error() const { throw_errno(read_error, "recv from " + name()); }

    // One recv of at most `max` bytes into the thread's scratch buffer, without waiting:
    // the byte count, 0 at EOF (or once closed locally: what is buffered, then EOF), -1
    // when the socket has nothing yet. Throws the (sticky) socket error.
    long recv_once(std::size_t max) {
        for (;;) {
            if (read_error) throw_read_error();
            if (eof) return 0;
            if (closing || !sock.is_open()) {
                eof = true;
                return 0;
            }
            long n = recv_some(sock.fd(), recv_scratch(), std::min(max, recv_scratch_size));
            if (n > 0) return n;
            if (n == 0) {
                eof = true;
                return 0;
            }
            int err = static_cast<int>(-n);
            if (would_block(err)) return -1;
            read_error = err;
        }
    }

    // Receives once into the buffer: true with new bytes or with `eof` set, false when the
    // caller must wait for readability.
    bool try_fill() {
        long n = recv_once(recv_scratch_size);
        if (n > 0) append(recv_scratch(), static_cast<std::size_t>(n));
        return n >= 0;
    }

    // ------------------------------------------------------------ write side
    std::size_t wsize() const noexcept { return wbuf.size() - wbeg; }

    [[noreturn]] void throw_write_error() const { throw_errno(write_error, "send to " + name()); }

    void check_writable() const {
        if (closing || !sock.is_open()) throw std::logic_error("corio: write() on a closed stream");
        if (eof_requested) throw std::logic_error("corio: write() after write_eof()");
        if (write_error) throw_write_error();
    }

    // `self` owns this core: the background flusher keeps it alive.
    void write(std::string_view data, const std::shared_ptr<stream_core>& self) {
        check_writable();
        if (data.empty()) return;
        if (wsize() == 0) { // nothing queued: the kernel may take it all now
            while (!data.empty()) {
                long n = send_some(sock.fd(), data.data(), data.size());
                if (n > 0) {
                    data.remove_prefix(static_cast<std::size_t>(n));
                    continue;
                }
                int err = static_cast<int>(-n);
                if (would_block(err)) break;
                fail_write(err);
                throw_write_error();
            }
            if (data.empty()) return;
        }
        wbuf.append(data);
        update_paused();
        if (!flushing) start_flusher(self);
    }

    // Sends what is buffered until the kernel pushes back. True while more remains.
    bool flush_some() {
        if (!sock.is_open() || write_error) return false;
        while (wsize() > 0) {
            long n = send_some(sock.fd(), wbuf.data() + wbeg, wsize());
            if (n > 0) {
                wbeg += static_cast<std::size_t>(n);
                continue;
            }
            int err = static_cast<int>(-n);
            if (would_block(err)) break;
            fail_write(err);
            return false;
        }
        if (wbeg == wbuf.size()) {
            wbuf.clear();
            wbeg = 0;
        } else if (wbeg > wbuf.size() / 2) { // amortized: the prefix removed is the larger half
            wbuf.erase(0, wbeg);
            wbeg = 0;
        }
        update_paused();
        return wsize() > 0;
    }

    // The buffer is empty (or can never be sent): finish a pending write_eof or close.
    void after_flush() noexcept {
        flushing = false;
        if (eof_requested && !eof_sent && wsize() == 0 && sock.is_open()) {
            shutdown_write(sock.fd());
            eof_sent = true;
        }
        if (closing) close_now();
    }

    void fail_write(int err) noexcept {
        write_error = err;
        wbuf.clear();
        wbeg = 0;
        update_paused();
    }

    // asyncio's flow control: pause above the high-water mark, resume at or below low.
    void update_paused() noexcept {
        if (!paused && wsize() > high) {
            paused = true;
        } else if (paused && (wsize() <= low || write_error || !sock.is_open())) {
            paused = false;
            notify();
        }
    }

    void start_flusher(const std::shared_ptr<stream_core>& self);

    // For the waits on `changed` (drain, wait_closed); the reads check in readiness_awaiter.
    void check_loop() const {
        if (sock.io.loop != current_loop_ptr) [[unlikely]]
            throw_foreign_loop("stream", sock.fd(), sock.is_open() ? sock.io.loop : nullptr, current_loop_ptr);
    }

    // Wakes drain() and wait_closed(), which re-check their condition: one event (left
    // clear) serves both, as a connection pays for every byte of this object.
    void notify() noexcept {
        try {
            changed.set();
        } catch (...) {
        }
        changed.clear();
    }

    void write_eof() {
        if (closing || eof_requested) return;
        eof_requested = true;
        if (wsize() == 0 && sock.is_open()) {
            shutdown_write(sock.fd()); // ENOTCONN after a reset is not worth an exception
            eof_sent = true;
        }
    }

    void close() noexcept {
        if (closing) return;
        closing = true;
        if (sock.io.reader) sock.loop().on_io(&sock.io, io_readable); // a parked read sees EOF
        if (wsize() == 0 || write_error || !sock.is_open()) close_now();
    }

    void abort() noexcept {
        closing = true;
        wbuf.clear();
        wbeg = 0;
        close_now();
    }

    void close_now() noexcept {
        wbuf.clear();
        wbeg = 0;
        sock.close_and_wake();
        update_paused();
        notify();
    }

    registered_socket sock;
    endpoint peer;
    std::size_t limit = default_stream_limit;

    // Unread bytes are rbuf[rbeg, end).
    std::string rbuf;
    std::size_t rbeg = 0;
    static constexpr std::size_t keep_capacity = 4 * 1024;
    int read_error = 0;
    bool eof = false;

    // Unsent bytes are wbuf[wbeg, end).
    std::string wbuf;
    std::size_t wbeg = 0;
    std::size_t high = default_write_high_water, low = default_write_high_water / 4;
    int write_error = 0;
    bool flushing = false, paused = false;
    bool eof_requested = false, eof_sent = false, closing = false;
    event changed; // see notify()
};

// Sends the buffer in the background. It owns a reference, so a stream closed or
// destroyed with data pending stays alive until that data is out.
inline task<void> flush_in_background(std::shared_ptr<stream_core> keep) {
    stream_core& c = *keep;
    try {
        while (c.flush_some()) co_await writable(c.sock.io);
    } catch (...) { // cancelled (loop shutdown): the stream is going away
        c.flushing = false;
        throw;
    }
    c.after_flush();
}

inline void stream_core::start_flusher(const std::shared_ptr<stream_core>& self) {
    flushing = true;
    try {
        (void)spawn(flush_in_background(self));
    } catch (...) {
        flushing = false;
        throw;
    }
}

// read(n) is an awaitable object rather than a coroutine: no frame per read (nor per idle
// connection), and when bytes are buffered or already queued in the kernel the task does
// not suspend at all. Otherwise it parks on the descriptor; an edge retries the recv
// right there and resumes the task only with an answer (a stale edge parks again).
class [[nodiscard]] read_some_op : public readiness_awaiter {
public:
    read_some_op(stream_core& c, std::size_t n) noexcept : readiness_awaiter(c.sock.io, false), c_(c), n_(n) {
        ready_fn = &on_ready;
    }
    read_some_op(read_some_op&&) noexcept = default; // only before it is awaited

    bool await_ready() { return attempt(); } // await_suspend: readiness_awaiter's parking
    std::string await_resume() {
        if (error_) std::rethrow_exception(error_);
        if (!done_) readiness_awaiter::await_resume(); // throws cancelled_error
        return std::move(out_);
    }

private:
    // True with the answer in out_; false when the socket has nothing yet.
    bool attempt() {
        if (n_ > 0) {
            if (c_.available() > 0) {
                out_ = c_.take(std::min(n_, c_.available()));
            } else {
                long got = c_.recv_once(n_);
                if (got < 0) return false;
                out_.assign(recv_scratch(), static_cast<std::size_t>(got));
            }
        }
        done_ = true;
        return true;
    }

    static void on_ready(void* p) noexcept {
        auto* self = static_cast<read_some_op*>(static_cast<io_waiter*>(p));
        if (self->cancelled_after_wake()) { // the bytes stay in the socket for the next read
            self->cancelled = true;
            self->handle.resume();
            return;
        }
        try {
            if (!self->attempt() && self->park_again()) return;
        } catch (...) { // the socket's error: the task rethrows it
            self->error_ = std::current_exception();
        }
        self->handle.resume();
    }

    stream_core& c_;
    std::size_t n_;
    std::string out_;
    std::exception_ptr error_;
    bool done_ = false;
};

inline task<std::string> read_to_eof(stream_core& c) {
    while (!c.eof)
        if (!c.try_fill()) co_await readable(c.sock.io);
    co_return c.take(c.available());
}

inline task<std::string> read_exactly(stream_core& c, std::size_t n) {
    while (c.available() < n) {
        if (c.eof) throw incomplete_read_error(c.take(c.available()), n);
        if (!c.try_fill()) co_await readable(c.sock.io);
    }
    co_return c.take(n);
}

// asyncio's readuntil: the separator is included; a separator starting past `limit`, or
// more than `limit` bytes without one, throws limit_overrun_error and consumes nothing.
// `eof_gives_rest`: readline's behaviour at EOF (the partial line instead of an error).
// The separator is `owned` when given, else `fixed` (static storage: readline's "\n").
inline task<std::string> read_until(stream_core& c, std::string_view fixed, std::string owned,
                                    bool eof_gives_rest) {
    const std::string_view sep = owned.empty() ? fixed : std::string_view(owned);
    if (sep.empty()) throw std::invalid_argument("corio: readuntil() separator must not be empty");
    std::size_t offset = 0; // bytes already searched: scanning stays linear
    for (;;) {
        std::size_t avail = c.available();
        if (avail >= sep.size()) {
            std::string_view data(c.rdata(), avail);
            std::size_t pos = data.find(sep, offset);
            if (pos != std::string_view::npos) {
                if (pos > c.limit)
                    throw limit_overrun_error(pos, "separator is found, but chunk is longer than limit");
                co_return c.take(pos + sep.size());
            }
            offset = avail + 1 - sep.size();
            if (offset > c.limit)
                throw limit_overrun_error(offset, "separator is not found, and chunk exceeds the limit");
        }
        if (c.eof) {
            std::string rest = c.take(c.available());
            if (eof_gives_rest) co_return rest;
            throw incomplete_read_error(std::move(rest), 0);
        }
        if (!c.try_fill()) co_await readable(c.sock.io);
    }
}

// An awaitable rather than a coroutine: drain() after every write costs nothing while
// the buffer is below the high-water mark.
class [[nodiscard]] drain_op {
public:
    explicit drain_op(stream_core& c) noexcept : c_(c), wait_(c.changed) {}
    bool await_ready() const {
        if (c_.write_error) c_.throw_write_error();
        return !c_.paused;
    }
    // `changed` is only notified when the buffer stops being paused, or on close.
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
        c_.check_loop();
        return wait_.await_suspend(h);
    }
    void await_resume() {
        wait_.await_resume();
        if (c_.write_error) c_.throw_write_error();
    }

private:
    stream_core& c_;
    event::awaiter wait_;
};

inline task<void> wait_closed(stream_core& c) {
    while (c.sock.is_open()) {
        c.check_loop();
        co_await c.changed.wait();
    }
}

} // namespace detail

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
    // Closes (after sending what is buffered, in the background).
    ~stream() {
        if (core_) core_->close();
    }

    bool valid() const noexcept { return core_ != nullptr; }
    explicit operator bool() const noexcept { return valid(); }

    // ---------------------------------------------------------------- reading

    // Up to n bytes; waits only when nothing is buffered. "" at EOF (or for n == 0).
    detail::read_some_op read(std::size_t n) { return {core(), n}; }
    // Everything until EOF.
    task<std::string> read() { return detail::read_to_eof(core()); }
    // Exactly n bytes; at EOF first, incomplete_read_error with the partial bytes (consumed).
    task<std::string> readexactly(std::size_t n) { return detail::read_exactly(core(), n); }
    // Up to and including `sep`. At EOF first: incomplete_read_error (partial consumed).
    // No separator within limit(): limit_overrun_error, and the bytes stay buffered.
    task<std::string> readuntil(std::string_view sep = "\n") {
        return detail::read_until(core(), {}, std::string(sep), false);
    }
    // A line including its "\n"; at EOF the last partial line, then "". Unlike asyncio
    // (which discards the data and raises ValueError), a line longer than limit() throws
    // limit_overrun_error and leaves the bytes buffered, as readuntil does.
    task<std::string> readline() { return detail::read_until(core(), "\n", std::string(), true); }
    // True once EOF was received and everything buffered was read.
    bool at_eof() const { return core().eof && core().available() == 0; }
    // The readuntil/readline limit (default 64 KiB).
    std::size_t limit() const { return core().limit; }
    void set_limit(std::size_t n) {
        if (n == 0) throw std::invalid_argument("corio: stream limit must be positive");
        core().limit = n;
    }

    // ---------------------------------------------------------------- writing

    // Sends what the kernel takes now and buffers the rest (never blocks, never SIGPIPE).
    // Throws std::logic_error after close()/write_eof(), or the stream's write error.
    void write(std::string_view data) { core().write(data, core_); }
    // Waits while the buffer is above the high-water mark, until it is at or below the
    // low-water mark; throws the write error if sending failed.
    detail::drain_op drain() { return detail::drain_op(core()); }
    // Half-close: the peer reads EOF once the buffer is sent; reading still works.
    void write_eof() { core().write_eof(); }
    bool can_write_eof() const noexcept { return true; }
    // Bytes buffered and not yet accepted by the kernel.
    std::size_t write_buffer_size() const { return core().wsize(); }
    // asyncio's defaults: high 64 KiB, low high/4.
    void set_write_buffer_limits(std::size_t high, std::size_t low) {
        if (low > high) throw std::invalid_argument("corio: low-water mark above the high-water mark");
        auto& c = core();
        c.high = high;
        c.low = low;
        c.update_paused();
    }
    void set_write_buffer_limits(std::size_t high) { set_write_buffer_limits(high, high / 4); }
    // (low, high), as asyncio's get_write_buffer_limits().
    std::pair<std::size_t, std::size_t> write_buffer_limits() const { return {core().low, core().high}; }

    // Stops reading (a pending read sees EOF after the buffered bytes) and closes once
    // the write buffer is sent. Idempotent.
    void close() {
        if (core_) core_->close();
    }
    // Closes now, discarding the write buffer.
    void abort() {
        if (core_) core_->abort();
    }
    bool is_closing() const noexcept { return !core_ || core_->closing; }
    // Returns once the descriptor is closed (after close() and the buffer is sent).
    task<void> wait_closed() { return detail::wait_closed(core()); }

    // ---------------------------------------------------------------- addresses

    endpoint peername() const { return core().peer; }
    // Asked of the socket: empty once the stream is closed.
    endpoint sockname() const { return core().local(); }
    // The socket descriptor (-1 once closed), for setsockopt and the like.
    int native_handle() const noexcept { return core_ ? core_->sock.fd() : -1; }

private:
    detail::stream_core& core() const {
        if (!core_) throw std::logic_error("corio: use of an empty (moved-from) stream");
        return *core_;
    }
    std::shared_ptr<detail::stream_core> core_;
};

} // namespace corio
