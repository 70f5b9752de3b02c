#pragma once
// Linux backend on io_uring. Readiness waits are one-shot POLL_ADDs, armed when a waiter
// parks (io_waits' arm hook) and level-checked by the kernel when armed, so no edge is
// lost; stream sockets receive ahead with multishot recv into a provided-buffer ring and
// send through the ring; file reads and writes at offsets go on the ring too. Everything
// queued during a turn is submitted by the one io_uring_enter that also waits, with the
// timer heap's deadline as its timeout (EXT_ARG). Other threads wake it through an
// eventfd watched by a multishot poll.
//
// user_data: a port_op's address (8-aligned, low bits 0), or a descriptor key: a tag in
// the low 3 bits, the descriptor and its generation above. The generation changes when
// the descriptor is deregistered, so a completion that arrives after its socket closed
// (and its number was reused) is recognised as stale and dropped.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <vector>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "corio/detail/completion_port.hpp"
#include "corio/detail/io_state.hpp"
#include "corio/platform/uring.hpp"

namespace corio::detail {

class uring_reactor final : public completion_port {
public:
    static constexpr unsigned sq_entries = 256;
    static constexpr unsigned cq_entries = 4096;
    static constexpr unsigned recv_buffers = 512;
    static constexpr unsigned recv_buffer_size = 4096;

    /// Returns null and sets `error` (an errno) when the kernel refuses io_uring.
    static std::unique_ptr<uring_reactor> create(int& error) {
        std::unique_ptr<uring_reactor> r(new uring_reactor());
        error = r->open();
        if (error) r.reset();
        return r;
    }
    ~uring_reactor() {
        if (wakefd_ >= 0) ::close(wakefd_);
    }

    void add(io_state& s) {
        entry& e = at(s.fd);
        e.state = &s;
        e.sink = nullptr;
        e.busy = 0;
        s.registered = true;
    }

    /// Stops every request keyed to the descriptor; their completions arrive stale.
    void remove(io_state& s) noexcept {
        if (!s.registered) return;
        s.registered = false;
        if (static_cast<std::size_t>(s.fd) >= table_.size()) return;
        entry& e = table_[s.fd];
        for (unsigned tag : {tag_poll_read, tag_poll_write})
            if (e.busy & bit(tag)) cancel_key(key(tag, s.fd, e.gen));
        if (e.busy & bit(tag_recv)) cancel_key(key(multishot_tag(e), s.fd, e.gen));
        e.state = nullptr;
        e.sink = nullptr;
        e.busy = 0;
        ++e.gen;
    }

    /// io_waits' arm hook: a waiter parked on `s`; watch the direction unless a request
    /// already will report it (a poll armed earlier, or the multishot recv for a reader).
    void arm_poll(io_state& s, bool for_write) {
        entry& e = at(s.fd);
        unsigned tag = for_write ? tag_poll_write : tag_poll_read;
        if (e.busy & (bit(tag) | (for_write ? 0u : bit(tag_recv)))) return;
        io_uring_sqe& q = ring_.next_sqe();
        q.opcode = IORING_OP_POLL_ADD;
        q.fd = s.fd;
        q.poll32_events = for_write ? POLLOUT : (POLLIN | POLLRDHUP | POLLPRI);
        q.user_data = key(tag, s.fd, e.gen);
        e.busy |= bit(tag);
    }

    // ------------------------------------------------------------ completion_port
    void arm(io_state& s, multishot what, multishot_sink& sink) override {
        entry& e = at(s.fd);
        e.sink = &sink;
        if (e.busy & bit(tag_recv)) return;
        if (what == multishot::recv && !bufs_ready_) open_buffers();
        io_uring_sqe& q = ring_.next_sqe();
        q.fd = s.fd;
        if (what == multishot::recv) {
            q.opcode = IORING_OP_RECV;
            q.ioprio = IORING_RECV_MULTISHOT;
            q.flags = IOSQE_BUFFER_SELECT;
            q.buf_group = bufs_.group();
        } else {
            q.opcode = IORING_OP_ACCEPT;
            q.ioprio = IORING_ACCEPT_MULTISHOT;
            q.accept_flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
        }
        e.accepts = what == multishot::accept;
        q.user_data = key(multishot_tag(e), s.fd, e.gen);
        e.busy |= bit(tag_recv);
    }
    void pause(io_state& s) noexcept override {
        entry& e = table_[s.fd];
        if ((e.busy & bit(tag_recv)) && !(e.busy & bit(tag_recv_stopping))) {
            cancel_key(key(multishot_tag(e), s.fd, e.gen));
            e.busy |= bit(tag_recv_stopping);
        }
    }
    void send(io_state& s, const char* data, std::size_t n, port_op& op) override {
        io_uring_sqe& q = op_sqe(IORING_OP_SEND, s.fd, op);
        q.addr = reinterpret_cast<std::uint64_t>(data);
        q.len = static_cast<unsigned>(std::min<std::size_t>(n, 1u << 30));
        q.msg_flags = MSG_NOSIGNAL;
    }
    void read_at(int fd, char* buf, std::size_t n, std::uint64_t offset, port_op& op) override {
        io_uring_sqe& q = op_sqe(IORING_OP_READ, fd, op);
        q.addr = reinterpret_cast<std::uint64_t>(buf);
        q.len = static_cast<unsigned>(std::min<std::size_t>(n, 1u << 30));
        q.off = offset;
    }
    void write_at(int fd, const char* buf, std::size_t n, std::uint64_t offset, port_op& op) override {
        io_uring_sqe& q = op_sqe(IORING_OP_WRITE, fd, op);
        q.addr = reinterpret_cast<std::uint64_t>(buf);
        q.len = static_cast<unsigned>(std::min<std::size_t>(n, 1u << 30));
        q.off = offset;
    }
    void fsync(int fd, bool data_only, port_op& op) override {
        io_uring_sqe& q = op_sqe(IORING_OP_FSYNC, fd, op);
        q.fsync_flags = data_only ? IORING_FSYNC_DATASYNC : 0;
    }
    void connect(int fd, const void* addr, unsigned len, port_op& op) override {
        io_uring_sqe& q = op_sqe(IORING_OP_CONNECT, fd, op);
        q.addr = reinterpret_cast<std::uint64_t>(addr);
        q.off = len; // the address length goes where a read's offset would
    }
    void cancel(port_op& op) noexcept override { cancel_key(reinterpret_cast<std::uint64_t>(&op)); }

    /// Operations whose completion has not arrived (the loop's shutdown waits for them).
    long ops_in_flight() const noexcept { return ops_in_flight_; }

    /// Submits the turn's requests and waits up to timeout_ms (-1: no limit, 0: not at
    /// all) for completions, which it reports: h.on_io(state, events) for readiness and
    /// received bytes, op->complete for operations, h.on_wake() for a wake-up.
    template <class Handler>
    void poll(int timeout_ms, Handler& h) {
        // Interrupted or timed out, completions may still have arrived: reap either way.
        (void)ring_.enter(timeout_ms != 0, timeout_ms < 0 ? -1 : std::int64_t(timeout_ms) * 1'000'000);
        reap(h);
    }

    /// Thread-safe, and async-signal-safe.
    void wake() noexcept { (void)::eventfd_write(wakefd_, 1); }

    /// At loop shutdown: cancels everything still in flight and waits for the operations'
    /// completions, so no kernel write lands in memory freed after the loop.
    template <class Handler>
    void cancel_all(Handler& h) {
        io_uring_sqe& q = ring_.next_sqe();
        q.opcode = IORING_OP_ASYNC_CANCEL;
        q.fd = -1;
        q.cancel_flags = IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL;
        q.user_data = tag_internal;
        for (int rounds = 0; rounds < 100 && (ring_.pending() > 0 || ops_in_flight_ > 0); ++rounds) {
            ring_.enter(ops_in_flight_ > 0, 10'000'000);
            reap(h);
        }
    }

private:
    enum : unsigned {
        tag_poll_read = 1,
        tag_poll_write = 2,
        tag_recv = 3, // a multishot recv; its bit in entry::busy stands for either multishot
        tag_wake = 4,
        tag_recv_stopping = 5, // only a flag in entry::busy
        tag_accept = 6,
        tag_internal = 7,
    };
    struct entry {
        io_state* state = nullptr;
        multishot_sink* sink = nullptr;
        std::uint32_t gen = 0;
        unsigned char busy = 0; // bit(tag) per request in flight
        bool accepts = false;   // the multishot request is an accept (else a recv)
    };

    static constexpr unsigned bit(unsigned tag) noexcept { return 1u << tag; }
    static unsigned multishot_tag(const entry& e) noexcept { return e.accepts ? tag_accept : tag_recv; }
    static std::uint64_t key(unsigned tag, int fd, std::uint32_t gen) noexcept {
        return tag | (std::uint64_t(unsigned(fd)) << 3) | (std::uint64_t(gen) << 35);
    }

    uring_reactor() = default;

    int open() {
        if (int e = ring_.open(sq_entries, cq_entries); e < 0) return -e;
        wakefd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (wakefd_ < 0) return errno;
        arm_wake();
        ring_.submit_now();
        return 0;
    }

    void open_buffers() {
        if (int e = bufs_.open(ring_, 0, recv_buffers, recv_buffer_size); e < 0)
            throw std::system_error(-e, std::system_category(), "io_uring provided buffers");
        bufs_ready_ = true;
    }

    entry& at(int fd) {
        if (static_cast<std::size_t>(fd) >= table_.size())
            table_.resize(std::max<std::size_t>(static_cast<std::size_t>(fd) + 1, table_.size() * 2));
        return table_[fd];
    }

    void arm_wake() {
        io_uring_sqe& q = ring_.next_sqe();
        q.opcode = IORING_OP_POLL_ADD;
        q.fd = wakefd_;
        q.len = IORING_POLL_ADD_MULTI; // edge-triggered: one completion per write, no read
        q.poll32_events = POLLIN;
        q.user_data = tag_wake;
    }

    io_uring_sqe& op_sqe(unsigned char opcode, int fd, port_op& op) {
        io_uring_sqe& q = ring_.next_sqe();
        q.opcode = opcode;
        q.fd = fd;
        q.user_data = reinterpret_cast<std::uint64_t>(&op);
        ++ops_in_flight_;
        return q;
    }

    void cancel_key(std::uint64_t target) noexcept {
        try {
            io_uring_sqe& q = ring_.next_sqe();
            q.opcode = IORING_OP_ASYNC_CANCEL;
            q.fd = -1;
            q.addr = target;
            q.flags = IOSQE_CQE_SKIP_SUCCESS;
            q.user_data = tag_internal;
        } catch (...) { // the ring is unusable: the request ends with the loop
        }
    }

    template <class Handler>
    void reap(Handler& h) {
        ring_.reap([&](const io_uring_cqe& c) { dispatch(c, h); });
    }

    template <class Handler>
    void dispatch(const io_uring_cqe& c, Handler& h) {
        const std::uint64_t ud = c.user_data;
        const unsigned tag = ud & 7;
        if (tag == 0) {
            --ops_in_flight_;
            port_op* op = reinterpret_cast<port_op*>(ud);
            op->complete(op, c.res);
            return;
        }
        if (tag == tag_wake) {
            if (!(c.flags & IORING_CQE_F_MORE)) arm_wake();
            h.on_wake();
            return;
        }
        if (tag == tag_internal) return;
        const int fd = static_cast<int>((ud >> 3) & 0xffffffffu);
        const std::uint32_t gen = static_cast<std::uint32_t>(ud >> 35);
        entry* e = static_cast<std::size_t>(fd) < table_.size() ? &table_[fd] : nullptr;
        const bool live = e && e->state && (e->gen & 0x1fffffffu) == gen;
        if (tag == tag_recv || tag == tag_accept) {
            const bool has_buffer = c.flags & IORING_CQE_F_BUFFER;
            const auto id = static_cast<unsigned short>(c.flags >> IORING_CQE_BUFFER_SHIFT);
            if (live && e->sink && c.res > 0 && has_buffer) e->sink->on_item(c.res, bufs_.data(id));
            else if (live && e->sink && c.res >= 0 && tag == tag_accept) e->sink->on_item(c.res, nullptr);
            else if (!live && c.res >= 0 && tag == tag_accept) ::close(c.res); // accepted too late
            if (has_buffer) bufs_.recycle(id);
            if (!live) return;
            io_state* s = e->state;
            if (!(c.flags & IORING_CQE_F_MORE)) {
                e->busy &= ~(bit(tag_recv) | bit(tag_recv_stopping));
                if (e->sink) e->sink->on_end(c.res > 0 || (tag == tag_accept && c.res >= 0) ? -ENOBUFS : c.res);
            }
            h.on_io(s, io_readable);
            return;
        }
        if (!live) return;
        e->busy &= ~bit(tag);
        unsigned what = 0;
        const unsigned ev = c.res < 0 ? POLLERR : static_cast<unsigned>(c.res);
        if (ev & (POLLIN | POLLRDHUP | POLLPRI)) what |= io_readable;
        if (ev & POLLOUT) what |= io_writable;
        if (ev & (POLLERR | POLLHUP)) what |= io_error | io_readable | io_writable;
        h.on_io(e->state, what);
    }

    uring ring_;
    buffer_ring bufs_;
    bool bufs_ready_ = false;
    int wakefd_ = -1;
    long ops_in_flight_ = 0;
    std::vector<entry> table_;
};

} // namespace corio::detail
