#pragma once
// start_server (asyncio.start_server): listens on every address the host resolves to and
// runs handler(stream) as its own task for each accepted connection.
//
//   auto srv = co_await corio::start_server(handle_client, "127.0.0.1", 8888);
//   co_await srv.serve_forever();
//
// The handler is any callable taking `stream` (by value: it owns the connection) or
// `stream&` and returning task<void>. An exception escaping a handler goes to the loop's
// exception handler (stderr by default) and disturbs nothing else. close() stops
// accepting and cancels the handlers still running; wait_closed() returns once every one
// of them has finished. Destroying the server closes it.
//
// The accept loop survives running out of descriptors (EMFILE/ENFILE): it sleeps 100 ms,
// doubling up to 1 s, and accepts again; the connection waits in the backlog meanwhile.
// Each wake-up accepts until EAGAIN, at most 64 at a time before letting others run.
//
// GCC 12: name a capturing lambda before `co_await start_server(handler, ...)`. Written
// inside the co_await expression, such a lambda is destroyed twice by that compiler.
#include <algorithm>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>


#include "corio/detail/awaitable_traits.hpp"
#include "corio/detail/chrono.hpp"
#include "corio/detail/intrusive_list.hpp"
#include "corio/detail/operation.hpp"
#include "corio/net/registered_socket.hpp"
#include "corio/event.hpp"
#include "corio/loop.hpp"
#include "corio/net/address.hpp"
#include "corio/net/resolve.hpp"
#include "corio/net/stream.hpp"
#include "corio/spawn.hpp"
#include "corio/task.hpp"
#include "corio/time.hpp"

namespace corio {

struct server_options {
    // Connections the kernel completes and queues while the server is busy. asyncio's
    // 100 overflows under a burst of clients: the excess SYNs are dropped and each of
    // those clients waits out a one-second retransmit. SOMAXCONN asks for the most the
    // system allows (Linux caps it at net.core.somaxconn).
    int backlog = detail::max_listen_backlog;
    bool reuse_address = true; // SO_REUSEADDR: rebind at once after a restart
    bool reuse_port = false;   // SO_REUSEPORT: share the port between processes
    std::size_t limit = default_stream_limit; // readuntil/readline limit of accepted streams
};

class server;

namespace detail {

/// The cancellation slot of the task awaiting it: how the server reaches the tasks it
/// spawned, to cancel them on close().
struct current_slot_awaiter {
    cancel_slot* slot = nullptr;
    bool await_ready() const noexcept { return false; }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) noexcept {
        slot = slot_of(h);
        return false;
    }
    cancel_slot* await_resume() const noexcept { return slot; }
};

struct handler_base {
    virtual ~handler_base() = default;
    virtual bool takes_reference() const noexcept = 0;
    virtual task<void> call_value(stream s) = 0; // handler(stream)
    virtual task<void> call_ref(stream& s) = 0;  // handler(stream&): the caller keeps s alive
};

/// No coroutine here depends on the handler's type: frames of lambda-dependent types trip
/// GCC's -Wsubobject-linkage when the lambda comes from a function with internal linkage.
template <class H>
struct handler_impl final : handler_base {
    H h;
    explicit handler_impl(H&& x) : h(std::move(x)) {}
    bool takes_reference() const noexcept override { return std::is_invocable_v<H&, stream&>; }
    task<void> call_value(stream s) override {
        if constexpr (std::is_invocable_v<H&, stream&>)
            throw std::logic_error("corio: handler takes stream&");
        else
            return into_task(h(std::move(s)));
    }
    task<void> call_ref(stream& s) override {
        if constexpr (std::is_invocable_v<H&, stream&>)
            return into_task(h(s));
        else
            throw std::logic_error("corio: handler takes stream by value");
    }
};

/// Lives in the frame of a task the server spawned, linked while it runs.
struct server_task : list_hook {
    cancel_slot* slot = nullptr;
    server_task() = default;
    server_task(const server_task&) = delete;
    ~server_task() {
        if (linked()) intrusive_list<server_task>::erase(*this);
    }
};

/// On io_uring one multishot accept serves the listening socket for its life: the ring
/// accepts as connections arrive and queues them here for the accept loop.
struct listener final : multishot_sink {
    explicit listener(unique_fd fd) : sock(std::move(fd), io_kind::listener), port(sock.loop().completions()) {}
    ~listener() {
        for (std::size_t i = head; i < queued.size(); ++i) close_fd(queued[i]);
    }
    listener(const listener&) = delete;
    listener& operator=(const listener&) = delete;

    /// A new connection's descriptor, or -errno (-EAGAIN: none yet; wait for readable).
    int accept_next(sock_addr& peer) {
        if (!port) return accept_socket(sock.fd(), peer);
        if (head < queued.size()) {
            int fd = queued[head++];
            if (head == queued.size()) {
                queued.clear();
                head = 0;
            }
            if (!peer_address(fd, peer)) peer = sock_addr{}; // reset already: its reads say so
            return fd;
        }
        if (int e = std::exchange(error, 0)) return -e;
        port->arm(sock.io, multishot::accept, *this);
        return -EAGAIN;
    }

    void on_item(int fd, const char*) noexcept override {
        try {
            queued.push_back(fd);
        } catch (...) {
            close_fd(fd); // out of memory: the client sees a reset, the server goes on
        }
    }
    void on_end(int result) noexcept override {
        if (result < 0 && result != -ECANCELED && result != -ENOBUFS) error = -result;
    }

    registered_socket sock;
    completion_port* port; // the loop's on io_uring, else null
    std::vector<int> queued; // accepted by the ring, not yet taken: queued[head, end)
    std::size_t head = 0;
    int error = 0; // the multishot accept's failure, for the accept loop's backoff
    endpoint address;
    int family = 0;
    file_identity unix_file; // the socket file this server created, removed on close
};

inline constexpr int max_accept_batch = 64;

class server_state : public std::enable_shared_from_this<server_state> {
public:
    server_state(std::unique_ptr<handler_base> h, const server_options& o)
        : handler(std::move(h)), opts(o) {}
    ~server_state() { close(); }

    void listen_on(const endpoint& ep) {
        sock_addr sa = to_sock_addr(ep);
        if (ep.is_local()) remove_stale_unix_socket(ep.path());
        auto l = std::make_unique<listener>(
            open_listener(sa, ep.to_string(), opts.backlog, opts.reuse_address, opts.reuse_port));
        sock_addr bound;
        l->address = local_address(l->sock.fd(), bound) && !ep.is_local() ? to_endpoint(bound) : ep;
        l->family = sa.family();
        if (ep.is_local()) l->unix_file = identify_file(ep.path());
        listeners.push_back(std::move(l));
    }

    void start_serving();
    void on_accepted(unique_fd fd, const sock_addr& peer, const listener& l);

    void close() noexcept {
        if (closing) return;
        closing = true;
        tasks.for_each([](server_task& t) { // cancellation only schedules: the list holds
            if (t.slot) t.slot->request();
        });
        for (auto& l : listeners) {
            l->sock.close_and_wake();
            unlink_if_same(l->address.path(), l->unix_file);
        }
        set_quietly(closed);
        if (live == 0) set_quietly(done);
    }

    void task_ended() noexcept {
        if (--live == 0 && closing) set_quietly(done);
    }

    static void set_quietly(event& e) noexcept {
        try {
            e.set();
        } catch (...) { // out of memory queueing a waiter: nothing better to do
        }
    }

    std::unique_ptr<handler_base> handler;
    server_options opts;
    std::vector<std::unique_ptr<listener>> listeners;
    intrusive_list<server_task> tasks; // acceptors and handlers, while they run
    std::size_t live = 0;              // tasks spawned whose frames still exist
    std::size_t connections = 0;       // handlers running
    bool closing = false;
    event closed; // set by close()
    event done;   // set once closed and every task has finished
};

/// Counts a spawned task from spawn() until its frame is gone, even if it never ran.
class live_token {
public:
    explicit live_token(std::shared_ptr<server_state> s) noexcept : st_(std::move(s)) { ++st_->live; }
    live_token(live_token&&) noexcept = default;
    live_token& operator=(live_token&&) = delete;
    ~live_token() {
        if (st_) st_->task_ended();
    }
    server_state& state() const noexcept { return *st_; }

private:
    std::shared_ptr<server_state> st_;
};

/// One per connection: the root the loop runs the handler's task under. It replaces
/// spawn's joinable record and a wrapper coroutine frame, as an idle connection pays for
/// every byte it holds. It is linked in the loop's roots (shutdown) and the server's tasks
/// (close() cancels through its slot), and deletes itself when the handler's task ends.
struct connection final : root_base, result_completion<void>, server_task {
    connection(live_token t, stream st) : token(std::move(t)), s(std::move(st)) {
        fn = thunk<completion, &connection::on_finished>;
        server_task::slot = &(this->root_base::slot);
    }
    ~connection() {
        // Unlinked here, while the token still keeps the server's list alive.
        if (server_task::linked()) intrusive_list<server_task>::erase(*this);
        if (running) --token.state().connections;
    }

    /// Starts the handler: a handler taking stream& gets the stream living here.
    void start(handler_base& h) {
        work = h.takes_reference() ? h.call_ref(s) : h.call_value(std::move(s));
        auto& p = work.handle().promise();
        p.slot = &(this->root_base::slot);
        p.set_completion(this);
#if CORIO_DEBUG
        p.record.root = true;
        try {
            p.record.name = "connection handler";
        } catch (...) {
        }
#endif
        event_loop& loop = event_loop::current();
        loop.post(thunk<connection, &connection::begin, void>, this); // the one step that can throw: nothing is linked yet
        loop.adopt(*this);
        token.state().tasks.push_back(*this);
    }

    /// connection_count() counts handlers that have started, as asyncio's active count.
    void begin() {
        running = true;
        ++token.state().connections;
        work.handle().resume();
    }

    /// Runs inside the task's final_suspend, where destroying its frame is allowed.
    std::coroutine_handle<> on_finished() noexcept {
        event_loop::release(*this);
        std::exception_ptr e = out.exception();
        if (e && !is_cancellation(e)) event_loop::current().report(e);
        delete this;
        return std::noop_coroutine();
    }
    void abandon() noexcept override { delete this; } // the loop is shutting down

    live_token token;
    stream s;
    task<void> work;
    bool running = false;
};

inline task<void> accept_loop(live_token token, listener* l) {
    using std::chrono::milliseconds;
    server_state& st = token.state();
    if (st.closing) co_return;
    server_task self;
    self.slot = co_await current_slot_awaiter{};
    st.tasks.push_back(self);
    milliseconds backoff(100);
    for (;;) {
        if (st.closing || !l->sock.is_open()) co_return;
        int err = 0, n = 0;
        for (; n < max_accept_batch; ++n) {
            sock_addr peer;
            int fd = l->accept_next(peer);
            if (fd < 0) {
                err = -fd;
                if (is_transient_accept_error(err)) continue;
                break;
            }
            backoff = milliseconds(100);
            try {
                st.on_accepted(unique_fd(fd), peer, *l);
            } catch (...) {
                l->sock.loop().report(std::current_exception());
            }
        }
        if (n == max_accept_batch) { // more may be queued: let the others run first
            co_await sleep(milliseconds(0));
        } else if (would_block(err)) {
            co_await readable(l->sock.io);
        } else {
            if (!is_resource_exhaustion(err))
                l->sock.loop().report(std::make_exception_ptr(std::system_error(
                    err, std::system_category(), "accept on " + l->address.to_string())));
            co_await sleep(backoff); // edge-triggered: no new edge will come, so retry after
            backoff = std::min(backoff * 2, milliseconds(1000));
        }
    }
}

inline void server_state::start_serving() {
    for (auto& l : listeners)
        (void)spawn(accept_loop(live_token(shared_from_this()), l.get()), {.name = "accept loop"});
}

inline void server_state::on_accepted(unique_fd fd, const sock_addr& peer, const listener& l) {
    auto core = std::make_shared<stream_core>(std::move(fd), l.family);
    core->limit = opts.limit;
    core->set_addresses(l.address.is_local() ? endpoint::local(path_of(peer)) // usually unnamed: ""
                                             : to_endpoint(peer));
    if (closing) return;
    auto c = std::make_unique<connection>(live_token(shared_from_this()), stream(std::move(core)));
    c->start(*handler);
    (void)c.release(); // owned by the loop from here: it deletes itself when the handler ends
}

template <class Handler>
std::shared_ptr<server_state> make_server_state(Handler&& h, const server_options& opts) {
    using H = std::decay_t<Handler>;
    static_assert(std::is_invocable_v<H&, stream&> || std::is_invocable_v<H&, stream&&>,
                  "corio: a server handler must be callable with a corio::stream (or stream&)");
    return std::make_shared<server_state>(std::make_unique<handler_impl<H>>(H(std::forward<Handler>(h))), opts);
}

inline task<void> wait_server_closed(std::shared_ptr<server_state> st) {
    while (!(st->closing && st->live == 0)) co_await st->done.wait();
}

inline task<void> serve_forever(std::shared_ptr<server_state> st) {
    if (st->closing) throw std::logic_error("corio: serve_forever() on a closed server");
    bool cancelled = false;
    try {
        while (!st->closing) co_await st->closed.wait();
    } catch (const cancelled_error&) {
        cancelled = true;
    }
    st->close();
    while (st->live != 0) co_await st->done.wait(); // wait_server_closed, without a frame
    if (cancelled) throw cancelled_error();
}

} // namespace detail

class server {
public:
    server() noexcept = default;
    explicit server(std::shared_ptr<detail::server_state> st) noexcept : st_(std::move(st)) {}
    server(server&&) noexcept = default;
    server& operator=(server&& o) noexcept {
        if (this != &o) {
            close();
            st_ = std::move(o.st_);
        }
        return *this;
    }
    ~server() { close(); }

    /// The bound addresses (with the ports chosen when 0 was asked); empty once closed.
    std::vector<endpoint> addresses() const {
        std::vector<endpoint> out;
        if (st_ && !st_->closing)
            for (auto& l : st_->listeners) out.push_back(l->address);
        return out;
    }
    /// The listening descriptors; empty once closed.
    std::vector<int> sockets() const {
        std::vector<int> out;
        if (st_ && !st_->closing)
            for (auto& l : st_->listeners) out.push_back(l->sock.fd());
        return out;
    }
    bool is_serving() const noexcept { return st_ && !st_->closing; }
    /// Handlers running now.
    std::size_t connection_count() const noexcept { return st_ ? st_->connections : 0; }

    /// Stops listening and cancels the running handlers. Idempotent.
    void close() noexcept {
        if (st_) st_->close();
    }
    /// Returns once the server is closed and every handler has finished.
    task<void> wait_closed() { return detail::wait_server_closed(state()); }
    /// Serves until the server is closed (then returns once the handlers have finished).
    /// Cancelling it closes the server, waits for the handlers, and rethrows.
    task<void> serve_forever() { return detail::serve_forever(state()); }

private:
    const std::shared_ptr<detail::server_state>& state() const {
        if (!st_) throw std::logic_error("corio: use of an empty (moved-from) server");
        return st_;
    }
    std::shared_ptr<detail::server_state> st_;
};

/// Listens on every address `host` resolves to ("" or "0.0.0.0"/"::" for all interfaces).
/// With port 0 the system picks a free port, shared by all the addresses when possible.
template <class Handler>
task<server> start_server(Handler handler, std::string host, std::uint16_t port,
                          server_options opts = {}) {
    auto addrs = co_await detail::resolve_for(host, port, true);
    auto st = detail::make_server_state(std::move(handler), opts);
    std::uint16_t chosen = port;
    for (const endpoint& ep : addrs) {
        if (port == 0 && chosen != 0) {
            try {
                st->listen_on(endpoint(ep.address(), chosen));
                continue;
            } catch (const std::system_error& e) {
                if (e.code() != std::errc::address_in_use) throw;
            }
        }
        st->listen_on(ep);
        if (chosen == 0) chosen = st->listeners.back()->address.port();
    }
    st->start_serving();
    co_return server(std::move(st));
}

} // namespace corio
