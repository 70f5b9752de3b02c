#pragma once
// The state of one connected stream socket (or one end of a pipe): its read buffer, its
// write buffer with the high/low water marks and the background flusher, and the sticky
// errors. stream.hpp documents the behaviour; stream_ops.hpp holds the operations that
// wait. A pipe end uses read/write instead of recv/send, and its write_eof() closes it.
#include <algorithm>
#include <cerrno>
#include <coroutine>
#include <cstddef>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "corio/detail/completion_port.hpp"
#include "corio/detail/dispatch.hpp"
#include "corio/net/registered_socket.hpp"
#include "corio/errors.hpp"
#include "corio/event.hpp"
#include "corio/loop.hpp"
#include "corio/net/address.hpp"
#include "corio/platform/pipe_ops.hpp"
#include "corio/spawn.hpp"
#include "corio/task.hpp"

namespace corio {

inline constexpr std::size_t default_stream_limit = 64 * 1024;
inline constexpr std::size_t default_write_high_water = 64 * 1024;

namespace detail {

/// Large enough for one recv to take what a busy socket has queued; allocated once per
/// thread (not zero-filled) and only ever used between a recv and the copy that follows it.
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

enum class pipe_end : unsigned char { read, write };

/// On io_uring (the loop has a completion port) a socket receives ahead, with multishot
/// recv, into the read buffer (as asyncio's transports do), up to this many bytes beyond
/// the readuntil limit before it pauses; reads take from the buffer. Writes are sent by
/// the ring from the stream's own buffer: write() never makes a syscall there.
inline constexpr std::size_t ring_read_ahead = 256 * 1024;

class stream_core final : multishot_sink, port_op {
    friend struct dispatch;

public:
    stream_core(unique_fd fd, int family) : sock(std::move(fd), io_kind::stream) {
        prepare_stream_socket(sock.fd(), family);
        port = sock.loop().completions();
        complete = thunk<port_op, &stream_core::on_sent>;
    }
    /// One end of a pipe (non-blocking). A read end cannot be written (write() throws
    /// logic_error, as after write_eof()); a write end reads as at EOF.
    stream_core(unique_fd fd, pipe_end end) : sock(std::move(fd), io_kind::pipe) {
        if (end == pipe_end::read) eof_requested = eof_sent = true;
        else eof = true;
    }

    bool is_pipe() const noexcept { return sock.io.kind == io_kind::pipe; }
    stream_core(const stream_core&) = delete;
    stream_core& operator=(const stream_core&) = delete;

    /// Called once connected or accepted. `peer_hint` is used when getpeername cannot help
    /// (an unnamed Unix peer is ""). The peer is kept because error messages name it after
    /// a reset, when getpeername no longer can; the local address is asked of the socket
    /// when wanted, as an idle connection pays for every byte it keeps.
    void set_addresses(const endpoint& peer_hint) { peer = peer_hint; }

    endpoint local() const {
        sock_addr a;
        return sock.is_open() && local_address(sock.fd(), a) ? to_endpoint(a) : endpoint();
    }

    /// What error messages call this stream.
    std::string name() const {
        if (is_pipe()) return "pipe";
        std::string p = peer.to_string();
        if (!p.empty()) return p;
        std::string l = local().to_string(); // an accepted Unix connection: the server's path
        return l.empty() ? std::string("socket") : l;
    }

    /// ------------------------------------------------------------ read buffer
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

    /// Drops the consumed prefix only when it is at least as long as what remains, so each
    /// byte moved was paid for by a byte consumed: reading stays linear.
    void append(const char* p, std::size_t n) {
        if (rbeg > 0 && rbeg >= available() && rbuf.size() + n > rbuf.capacity()) {
            rbuf.erase(0, rbeg);
            rbeg = 0;
        }
        rbuf.append(p, n);
    }

    [[noreturn]] void throw_read_error() const {
        throw_errno(read_error, (is_pipe() ? "read from " : "recv from ") + name());
    }

    long receive(char* buf, std::size_t n) noexcept {
        return is_pipe() ? pipe_read(sock.fd(), buf, n) : recv_some(sock.fd(), buf, n);
    }
    long transmit(const char* buf, std::size_t n) noexcept {
        return is_pipe() ? pipe_write(sock.fd(), buf, n) : send_some(sock.fd(), buf, n);
    }

    /// One recv of at most `max` bytes into the thread's scratch buffer, without waiting:
    /// the byte count, 0 at EOF (or once closed locally: what is buffered, then EOF), -1
    /// when the socket has nothing yet. Throws the (sticky) socket error. On a completion
    /// port the bytes arrive in the read buffer instead: this (re)starts receiving and
    /// returns -1, and the port wakes the parked reader as they come.
    long recv_once(std::size_t max) {
        for (;;) {
            if (read_error) throw_read_error();
            if (eof) return 0;
            if (closing || !sock.is_open()) {
                eof = true;
                return 0;
            }
            if (port) {
                check_loop(); // before the ring is touched: it belongs to one thread
                port->arm(sock.io, multishot::recv, *this);
                return -1;
            }
            long n = receive(recv_scratch(), std::min(max, recv_scratch_size));
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

    /// Receives once into the buffer: true with new bytes or with `eof` set, false when the
    /// caller must wait for readability.
    bool try_fill() {
        long n = recv_once(recv_scratch_size);
        if (n > 0) append(recv_scratch(), static_cast<std::size_t>(n));
        return n >= 0;
    }

    /// ------------------------------------------------------------ write side
    std::size_t wsize() const noexcept { return wbuf.size() - wbeg + (wsending.size() - wsent); }

    [[noreturn]] void throw_write_error() const {
        throw_errno(write_error, (is_pipe() ? "write to " : "send to ") + name());
    }

    void check_writable() const {
        if (closing || !sock.is_open()) throw std::logic_error("corio: write() on a closed stream");
        if (eof_requested) // a pipe's write end closes on write_eof(), so this is its read end
            throw std::logic_error(is_pipe() ? "corio: write() on the read end of a pipe"
                                             : "corio: write() after write_eof()");
        if (sending_file) throw std::logic_error("corio: write() while sendfile() is in progress");
        if (write_error) throw_write_error();
    }

    /// `self` owns this core: the background flusher keeps it alive.
    void write(std::string_view data, const std::shared_ptr<stream_core>& self) {
        check_writable();
        if (data.empty()) return;
        if (port) {
            check_loop();
            wbuf.append(data);
            if (!flushing) send_on_port(self);
            update_paused();
            return;
        }
        if (wsize() == 0) { // nothing queued: the kernel may take it all now
            while (!data.empty()) {
                long n = transmit(data.data(), data.size());
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

    /// Sends what is buffered until the kernel pushes back. True while more remains.
    bool flush_some() {
        if (!sock.is_open() || write_error) return false;
        while (wsize() > 0) {
            long n = transmit(wbuf.data() + wbeg, wsize());
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

    /// The buffer is empty (or can never be sent): finish a pending write_eof or close.
    void after_flush() noexcept {
        flushing = false;
        notify(); // sendfile waits for the buffer to be out before it sends
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

    /// asyncio's flow control: pause above the high-water mark, resume at or below low.
    void update_paused() noexcept {
        if (!paused && wsize() > high) {
            paused = true;
        } else if (paused && (wsize() <= low || write_error || !sock.is_open())) {
            paused = false;
            notify();
        }
    }

    void start_flusher(const std::shared_ptr<stream_core>& self);

    /// For the waits on `changed` (drain, wait_closed); the reads check in readiness_awaiter.
    void check_loop() const {
        if (sock.io.loop != current_loop_ptr) [[unlikely]]
            throw_foreign_loop("stream", sock.fd(), sock.is_open() ? sock.io.loop : nullptr, current_loop_ptr);
    }

    /// Wakes drain() and wait_closed(), which re-check their condition: one event (left
    /// clear) serves both, as a connection pays for every byte of this object.
    void notify() noexcept {
        try {
            changed.set();
        } catch (...) {
        }
        changed.clear();
    }

    void write_eof() {
        if (is_pipe() && !eof_requested) { // a pipe has no half-close: its reader sees EOF on close
            close();
            return;
        }
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
        if (sock.is_open()) sock.loop().io_waits().wake(sock.io, io_readable); // a parked read sees EOF
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
        if (port && flushing) port->cancel(*this); // a peer that never reads must not pin it
        sock.close_and_wake();
        update_paused();
        notify();
    }

    /// ------------------------------------------------------------ completion port
    /// Moves the write buffer into the one send in flight, which the kernel reads until
    /// its completion: later writes append to wbuf meanwhile. `self` keeps this alive.
    void send_on_port(const std::shared_ptr<stream_core>& self) {
        wsending.swap(wbuf);
        wbuf.clear();
        wbeg = wsent = 0;
        port->send(sock.io, wsending.data(), wsending.size(), *this);
        flushing = true;
        keep_alive = self;
    }

    void on_sent(int result) noexcept {
        if (result > 0) {
            wsent += static_cast<std::size_t>(result);
            if (wsent < wsending.size() && sock.is_open() && !write_error && resend()) return;
        } else if (!write_error) {
            fail_write(result == 0 ? EPIPE : -result);
        }
        wsending.clear();
        wsent = 0;
        if (!write_error && wbuf.size() > wbeg && sock.is_open()) {
            wsending.swap(wbuf);
            wbuf.clear();
            wbeg = 0;
            if (resend()) {
                update_paused();
                return;
            }
            wsending.clear();
        }
        update_paused();
        std::shared_ptr<stream_core> last = std::move(keep_alive); // may be the last owner
        after_flush();
    }

    bool resend() noexcept {
        try {
            port->send(sock.io, wsending.data() + wsent, wsending.size() - wsent, *this);
            return true;
        } catch (const std::system_error& e) {
            fail_write(e.code().value());
            return false;
        }
    }

    void on_item(int n, const char* data) noexcept override {
        try {
            append(data, static_cast<std::size_t>(n));
        } catch (...) { // out of memory: the reader sees it as an error
            if (!read_error) read_error = ENOMEM;
        }
        if (available() >= std::max(limit, ring_read_ahead)) port->pause(sock.io);
    }
    void on_end(int result) noexcept override {
        if (result == 0) eof = true;
        else if (result != -ECANCELED && result != -ENOBUFS && !read_error) read_error = -result;
    }

    registered_socket sock;
    completion_port* port = nullptr; // the loop's, for a socket on io_uring; else null
    std::string wsending; // the send in flight: wsending[wsent, end)
    std::size_t wsent = 0;
    std::shared_ptr<stream_core> keep_alive; // while a send is in flight
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
    bool sending_file = false; // write() would interleave with the file's bytes
    event changed; // see notify()
};

/// Sends the buffer in the background. It owns a reference, so a stream closed or
/// destroyed with data pending stays alive until that data is out.
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
        (void)spawn(flush_in_background(self), {.name = "stream flush at close"});
    } catch (...) {
        flushing = false;
        throw;
    }
}

} // namespace detail

} // namespace corio
