#pragma once
// corio::http::client: a small HTTP/1.1 client session on corio streams, shaped like
// aiohttp's ClientSession.
//
//   corio::http::client http;
//   auto resp = co_await http.get("http://example.com/");
//   std::string body = co_await resp.text();
//
// Connections are kept alive and pooled per host:port (at most max_connections_per_host
// in use or idle per host); an idle connection the server closed is noticed before reuse,
// and an idempotent request whose reused connection fails before any response byte is
// retried once on a fresh one. Redirects are followed with RFC 9110's method rules. One
// deadline (total_timeout) covers connecting, sending, redirects and reading the body;
// connect_timeout bounds each connection attempt. A response whose body was not read to
// its end, a timeout or a cancellation closes its connection instead of pooling it.
//
// Requests take their arguments by value (they are coroutines); a response may outlive
// the client that made it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "corio/detail/chrono.hpp"
#include "corio/detail/socket_probe.hpp"
#include "corio/errors.hpp"
#include "corio/http/errors.hpp"
#include "corio/http/headers.hpp"
#include "corio/http/response_parser.hpp"
#include "corio/http/url.hpp"
#include "corio/net/connect.hpp"
#include "corio/net/stream.hpp"
#include "corio/sync.hpp"
#include "corio/task.hpp"
#include "corio/time.hpp"

namespace corio::http {

struct client_options {
    std::size_t max_connections_per_host = 10; // in use plus idle, per host:port
    std::size_t max_idle_connections = 100;    // idle ones over all hosts
    std::chrono::milliseconds connect_timeout{30'000};   // each connection attempt; 0: none
    // One deadline from request() to the end of the body, redirects included (aiohttp's
    // total): a long download needs a larger one, or 0 for none.
    std::chrono::milliseconds total_timeout{300'000};
    std::chrono::milliseconds keepalive_timeout{15'000}; // idle longer than this: not reused
    bool follow_redirects = true;
    std::size_t max_redirects = 10;
    std::size_t max_body_size = 256 * 1024 * 1024; // read() and text(); read_chunk() streams
    std::size_t chunk_size = 64 * 1024;            // read_chunk()'s default maximum
    std::string user_agent = "corio-http/0.1";
    http::headers headers;                         // sent with every request
    parser_limits limits;
};

class response;
class client;

namespace detail {

using clock = std::chrono::steady_clock;

// The one deadline of a request, and how to name it when it strikes.
struct limit_ctx {
    std::optional<clock::time_point> at;
    std::string url;
    long long ms = 0;
};

// Awaits `t` (a task or an operation such as a stream read) within the request's deadline.
template <class A>
task<corio::detail::await_result_t<A>> within(A t, const limit_ctx& lim) {
    if (!lim.at) co_return co_await std::move(t);
    auto left = *lim.at - clock::now();
    if (left <= clock::duration::zero()) throw request_timeout(lim.url, lim.ms);
    try {
        co_return co_await corio::wait_for(std::move(t), left);
    } catch (const connect_timeout&) {
        throw;
    } catch (const request_timeout&) {
        throw;
    } catch (const corio::timeout_error&) {
        throw request_timeout(lim.url, lim.ms);
    }
}

struct connection {
    connection(corio::stream st, const parser_limits& l) : s(std::move(st)), parser(l) {}
    corio::stream s;
    response_parser parser;
    std::string buf; // read, not yet parsed: buf[off, size)
    std::size_t off = 0;
    std::size_t served = 0; // responses completed on it
    clock::time_point idle_since{};
};

struct host_pool {
    explicit host_pool(std::size_t limit) : slots(limit) {}
    corio::semaphore slots; // a permit per connection in use; idle ones hold none
    std::deque<std::unique_ptr<connection>> idle; // oldest first
    std::size_t users = 0;  // requests holding or awaiting a permit: keeps the entry alive
};

struct pool_state {
    explicit pool_state(client_options o) : opts(std::move(o)) {}

    client_options opts;
    std::unordered_map<std::string, std::unique_ptr<host_pool>> hosts;
    std::size_t idle_total = 0;
    std::size_t opened = 0;
    bool closed = false;

    host_pool& enter(const std::string& key) {
        auto& p = hosts[key];
        if (!p) p = std::make_unique<host_pool>(std::max<std::size_t>(1, opts.max_connections_per_host));
        ++p->users;
        return *p;
    }
    void leave(const std::string& key, host_pool& p) noexcept {
        if (--p.users == 0 && p.idle.empty()) hosts.erase(key);
    }

    // The most recently used idle connection that is still fit for a request.
    std::unique_ptr<connection> take_idle(host_pool& p) {
        auto now = clock::now();
        while (!p.idle.empty()) {
            std::unique_ptr<connection> c = std::move(p.idle.back());
            p.idle.pop_back();
            --idle_total;
            bool expired = opts.keepalive_timeout.count() > 0 && now - c->idle_since > opts.keepalive_timeout;
            if (!expired &&
                corio::detail::probe_idle_socket(c->s.native_handle()) == corio::detail::idle_socket_state::open)
                return c;
        } // the others are closed as they go out of scope
        return nullptr;
    }

    void add_idle(host_pool& p, std::unique_ptr<connection> c) {
        c->idle_since = clock::now();
        p.idle.push_back(std::move(c));
        ++idle_total;
        while (idle_total > opts.max_idle_connections) drop_oldest_idle();
    }

    void drop_oldest_idle() noexcept {
        auto oldest = hosts.end();
        for (auto it = hosts.begin(); it != hosts.end(); ++it)
            if (!it->second->idle.empty() &&
                (oldest == hosts.end() ||
                 it->second->idle.front()->idle_since < oldest->second->idle.front()->idle_since))
                oldest = it;
        if (oldest == hosts.end()) return;
        oldest->second->idle.pop_front();
        --idle_total;
        if (oldest->second->users == 0 && oldest->second->idle.empty()) hosts.erase(oldest);
    }

    void close() noexcept {
        closed = true;
        for (auto it = hosts.begin(); it != hosts.end();) {
            idle_total -= it->second->idle.size();
            it->second->idle.clear();
            it = it->second->users == 0 ? hosts.erase(it) : std::next(it);
        }
    }
};

// A permit of a host's pool, and the connection used under it. Ends by going back to the
// pool (recycle) or by closing the connection (discard, also what destruction does).
class lease {
public:
    lease() = default;
    lease(std::shared_ptr<pool_state> st, std::string key, host_pool* p) noexcept
        : st_(std::move(st)), key_(std::move(key)), pool_(p) {}
    lease(lease&& o) noexcept
        : st_(std::move(o.st_)), key_(std::move(o.key_)), pool_(std::exchange(o.pool_, nullptr)),
          conn_(std::move(o.conn_)) {}
    lease& operator=(lease&& o) noexcept {
        if (this != &o) {
            discard();
            st_ = std::move(o.st_);
            key_ = std::move(o.key_);
            pool_ = std::exchange(o.pool_, nullptr);
            conn_ = std::move(o.conn_);
        }
        return *this;
    }
    ~lease() { discard(); }

    void attach(std::unique_ptr<connection> c) noexcept { conn_ = std::move(c); }
    connection& conn() const noexcept { return *conn_; }
    bool active() const noexcept { return pool_ != nullptr; }

    void recycle() {
        if (!pool_) return;
        if (st_->closed || !conn_) return discard();
        ++conn_->served;
        conn_->buf.clear();
        conn_->off = 0;
        try {
            st_->add_idle(*pool_, std::move(conn_));
        } catch (...) {
        }
        end();
    }

    void discard() noexcept {
        if (!pool_) return;
        if (conn_) conn_->s.abort();
        conn_.reset();
        end();
    }

private:
    void end() noexcept {
        host_pool* p = std::exchange(pool_, nullptr);
        try {
            p->slots.release();
        } catch (...) {
        }
        st_->leave(key_, *p);
    }

    std::shared_ptr<pool_state> st_;
    std::string key_;
    host_pool* pool_ = nullptr;
    std::unique_ptr<connection> conn_;
};

// The next parser event, reading from the socket when the parser has used every byte.
// Reads take everything the stream has buffered, so no byte hides there when the
// connection goes back to the pool.
inline task<parse_step> next_event(connection& c, const limit_ctx& lim) {
    for (;;) {
        parse_step s = c.parser.feed(std::string_view(c.buf).substr(c.off));
        c.off += s.consumed;
        if (s.event != parse_event::need_more) co_return s;
        std::string data = co_await within(c.s.read(std::numeric_limits<std::size_t>::max()), lim);
        if (data.empty()) co_return c.parser.feed_eof();
        c.buf = std::move(data);
        c.off = 0;
    }
}

// What reading a body needs once the headers are in.
struct body_state {
    lease held;
    limit_ctx lim;
    bool reusable = true;   // the request did not ask to close
    std::string_view pending; // a body piece not yet handed out (a view into conn().buf)
};

struct request_spec {
    std::string method;
    url target;
    http::headers fields;
    std::string body;

    bool idempotent() const noexcept {
        for (auto m : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
            if (method == m) return true;
        return false;
    }
};

// The caller's connection failed before any response byte: try again on a fresh one.
struct stale_connection {};

task<response> send_request(std::shared_ptr<pool_state> st, const request_spec& rq, const limit_ctx& lim,
                            bool fresh);

} // namespace detail

class response {
public:
    int status = 0;
    std::string reason;
    http::headers headers;
    http::url url;           // where the response came from (after redirects)
    std::string method;
    int version_minor = 1;   // HTTP/1.<minor>
    std::vector<std::string> history; // URLs that redirected here, in order

    response() = default;
    response(response&&) noexcept = default;
    response& operator=(response&&) noexcept = default;

    bool ok() const noexcept { return status > 0 && status < 400; }
    void raise_for_status() const {
        if (status >= 400) throw status_error(status, reason, url.str());
    }

    // The Content-Length the server declared (for HEAD: what GET would send), if any.
    std::optional<std::uint64_t> content_length() const noexcept { return content_length_; }
    // True once the whole body was read (trailers() is then complete).
    bool at_eof() const noexcept { return done_; }
    const http::headers& trailers() const noexcept { return trailers_; }

    // The next piece of body, at most `max` bytes (client_options::chunk_size when 0);
    // "" at the end. Memory stays bounded however large the body is.
    task<std::string> read_chunk(std::size_t max = 0);
    // The rest of the body. More than client_options::max_body_size throws body_too_large.
    task<std::string> read();
    // The body as text (bytes as received: no charset conversion).
    task<std::string> text() { return read(); }
    // Reads and drops the rest of a small body (up to `up_to` bytes) so the connection
    // can serve another request; a larger or unfinished one is closed instead.
    task<void> release(std::size_t up_to = 64 * 1024);
    // Gives up the rest of the body: the connection is closed, never pooled.
    void close() noexcept {
        if (body_) closed_ = true;
        body_.reset();
    }

private:
    friend task<response> detail::send_request(std::shared_ptr<detail::pool_state>, const detail::request_spec&,
                                               const detail::limit_ctx&, bool);

    void finish() {
        detail::connection& c = body_->held.conn();
        trailers_ = std::move(c.parser.trailers());
        done_ = true;
        if (body_->reusable && c.parser.keep_alive() && c.off == c.buf.size())
            body_->held.recycle();
        else
            body_->held.discard();
        body_.reset();
    }
    // A response known to be complete without reading (no body left) ends at once.
    void finish_if_done() {
        if (!body_ || !body_->pending.empty()) return;
        detail::connection& c = body_->held.conn();
        if (c.off != c.buf.size()) return;
        if (c.parser.feed({}).event == parse_event::done) finish();
    }

    std::unique_ptr<detail::body_state> body_;
    std::optional<std::uint64_t> content_length_;
    http::headers trailers_;
    std::size_t max_body_ = 0;
    std::size_t chunk_ = 64 * 1024;
    std::exception_ptr error_;
    bool done_ = false;
    bool closed_ = false;
};

inline task<std::string> response::read_chunk(std::size_t max) {
    if (max == 0) max = chunk_;
    if (closed_) throw std::logic_error("corio::http: response body read after close()");
    if (error_) std::rethrow_exception(error_); // the body is lost: say why again
    if (done_ || !body_) co_return std::string();
    detail::body_state& b = *body_;
    detail::connection& c = b.held.conn();
    if (b.pending.empty()) {
        parse_step s;
        try {
            s = co_await detail::next_event(c, b.lim);
        } catch (...) {
            error_ = std::current_exception();
            body_.reset(); // a failed, timed-out or cancelled read closes the connection
            throw;
        }
        if (s.event == parse_event::done) {
            finish();
            co_return std::string();
        }
        b.pending = s.data;
    }
    std::string out;
    if (b.pending.size() <= max && b.pending.data() == c.buf.data() && b.pending.size() == c.buf.size()) {
        out = std::move(c.buf); // the piece is the whole read: hand it over without a copy
        c.buf.clear();
        c.off = 0;
        b.pending = {};
    } else {
        out.assign(b.pending.substr(0, max));
        b.pending.remove_prefix(out.size());
    }
    finish_if_done();
    co_return out;
}

inline task<std::string> response::read() {
    std::string out;
    if (content_length_ && !done_) {
        if (*content_length_ > max_body_) {
            close();
            throw body_too_large(max_body_);
        }
        out.reserve(static_cast<std::size_t>(*content_length_));
    }
    for (;;) {
        std::string piece = co_await read_chunk(std::numeric_limits<std::size_t>::max());
        if (piece.empty()) co_return out;
        if (out.size() + piece.size() > max_body_) {
            close();
            throw body_too_large(max_body_);
        }
        if (out.empty() && out.capacity() < piece.size())
            out = std::move(piece);
        else
            out += piece;
    }
}

inline task<void> response::release(std::size_t up_to) {
    std::size_t seen = 0;
    try {
        while (body_ && !done_) {
            if (content_length_ && *content_length_ > up_to) break;
            std::string piece = co_await read_chunk(std::numeric_limits<std::size_t>::max());
            seen += piece.size();
            if (seen > up_to) break;
        }
    } catch (const protocol_error&) { // a body nobody wants may be broken: its connection goes
    } catch (const std::system_error&) {
    }
    body_.reset();
}

namespace detail {

inline std::string pool_key(const url& u) {
    return (u.kind == host_kind::ipv6 ? '[' + u.host + ']' : u.host) + ':' + std::to_string(u.port);
}

inline task<void> acquire_permit(corio::semaphore& s) { co_await s.acquire(); }

// The shorter of connect_timeout and what is left of the request's deadline applies;
// whichever it was names the error.
inline task<corio::stream> connect_to(const url& u, const limit_ctx& lim, std::chrono::milliseconds limit) {
    auto attempt = corio::open_connection(u.host, u.port);
    bool own_limit = limit.count() > 0 && (!lim.at || clock::now() + limit < *lim.at);
    if (!own_limit) co_return co_await within(std::move(attempt), lim);
    try {
        co_return co_await corio::wait_for(std::move(attempt), limit);
    } catch (const connect_timeout&) {
        throw;
    } catch (const corio::timeout_error&) {
        throw connect_timeout(pool_key(u), limit.count());
    }
}

// Request line and fields. The defaults (Host, User-Agent, Accept, Connection,
// Content-Length) give way to the session's fields, which give way to the request's.
// The body is always framed by Content-Length, so a caller's Transfer-Encoding or a
// Content-Length that disagrees with the body is refused rather than sent.
inline std::string build_request(const request_spec& rq, const client_options& o, bool& asks_close) {
    http::headers out;
    out.add("Host", rq.target.authority());
    out.add("User-Agent", o.user_agent);
    out.add("Accept", "*/*");
    out.add("Connection", "keep-alive");
    bool needs_length = !rq.body.empty() || rq.method == "POST" || rq.method == "PUT" || rq.method == "PATCH";
    if (needs_length) out.add("Content-Length", std::to_string(rq.body.size()));
    for (const http::headers* src : {&o.headers, &rq.fields}) {
        for (auto& f : *src) out.erase(f.first);
        for (auto& f : *src) out.append_unchecked(f.first, f.second);
    }
    if (out.contains("transfer-encoding"))
        throw std::invalid_argument("corio::http: Transfer-Encoding cannot be set on a request "
                                    "(the body is sent with Content-Length)");
    for (auto v : out.get_all("content-length"))
        if (v != std::to_string(rq.body.size()))
            throw std::invalid_argument("corio::http: Content-Length " + excerpt(v) + " does not match the " +
                                        std::to_string(rq.body.size()) + "-byte body");
    asks_close = out.has_token("connection", "close");
    std::string head = rq.method + ' ' + rq.target.target() + " HTTP/1.1\r\n";
    for (auto& [name, value] : out) {
        head += name;
        head += ": ";
        head += value;
        head += "\r\n";
    }
    head += "\r\n";
    return head;
}

// One attempt: a permit, a connection (pooled unless `fresh`), the request, the headers
// of the response.
inline task<response> send_request(std::shared_ptr<pool_state> st, const request_spec& rq, const limit_ctx& lim,
                                   bool fresh) {
    bool asks_close = false;
    std::string head = detail::build_request(rq, st->opts, asks_close);
    std::string key = detail::pool_key(rq.target);
    detail::host_pool& pool = st->enter(key);
    try {
        co_await detail::within(detail::acquire_permit(pool.slots), lim);
    } catch (...) {
        st->leave(key, pool);
        throw;
    }
    detail::lease held(st, key, &pool);
    std::unique_ptr<detail::connection> c = fresh ? nullptr : st->take_idle(pool);
    bool reused = c != nullptr;
    if (!c) {
        corio::stream s = co_await detail::connect_to(rq.target, lim, st->opts.connect_timeout);
        ++st->opened;
        c = std::make_unique<detail::connection>(std::move(s), st->opts.limits);
    }
    held.attach(std::move(c));
    detail::connection& conn = held.conn();
    conn.parser.reset(rq.method == "HEAD");
    bool stale = false;
    try {
        conn.s.write(head);
        if (!rq.body.empty()) conn.s.write(rq.body);
        co_await detail::within(conn.s.drain(), lim);
        for (;;) { // interim (1xx) responses are skipped
            parse_step s = co_await detail::next_event(conn, lim);
            if (s.event == parse_event::headers) break;
        }
    } catch (const std::system_error&) {
        stale = reused && !conn.parser.started() && rq.idempotent();
        if (!stale) throw;
    } catch (const protocol_error&) {
        stale = reused && !conn.parser.started() && rq.idempotent();
        if (!stale) throw;
    }
    if (stale) throw detail::stale_connection{};
    response r;
    r.status = conn.parser.status();
    r.reason = std::string(conn.parser.reason());
    r.headers = std::move(conn.parser.headers());
    r.version_minor = conn.parser.version_minor();
    r.url = rq.target;
    r.method = rq.method;
    r.content_length_ = conn.parser.declared_length();
    r.max_body_ = st->opts.max_body_size;
    r.chunk_ = std::max<std::size_t>(1, st->opts.chunk_size);
    r.body_ = std::make_unique<detail::body_state>();
    r.body_->held = std::move(held);
    r.body_->lim = lim;
    r.body_->reusable = !asks_close;
    r.finish_if_done();
    co_return r;
}

} // namespace detail

class client {
public:
    explicit client(client_options opts = {}) : st_(std::make_shared<detail::pool_state>(std::move(opts))) {}
    client(client&&) noexcept = default;
    client& operator=(client&& o) noexcept {
        if (this != &o) {
            close();
            st_ = std::move(o.st_);
        }
        return *this;
    }
    ~client() { close(); }

    task<response> request(std::string method, std::string url, http::headers headers = {},
                           std::string body = {}) {
        return run(state(), std::move(method), std::move(url), std::move(headers), std::move(body));
    }
    task<response> get(std::string url, http::headers headers = {}) {
        return request("GET", std::move(url), std::move(headers));
    }
    task<response> head(std::string url, http::headers headers = {}) {
        return request("HEAD", std::move(url), std::move(headers));
    }
    task<response> post(std::string url, std::string body, http::headers headers = {}) {
        return request("POST", std::move(url), std::move(headers), std::move(body));
    }
    task<response> put(std::string url, std::string body, http::headers headers = {}) {
        return request("PUT", std::move(url), std::move(headers), std::move(body));
    }

    // Closes the idle connections; those in use close when their response ends. Later
    // requests throw std::logic_error.
    void close() noexcept {
        if (st_) st_->close();
    }

    const client_options& options() const { return state()->opts; }
    std::size_t connections_opened() const { return state()->opened; }
    std::size_t idle_connections() const { return state()->idle_total; }

private:
    const std::shared_ptr<detail::pool_state>& state() const {
        if (!st_) throw std::logic_error("corio::http: use of an empty (moved-from) client");
        return st_;
    }

    static task<response> send_with_retry(std::shared_ptr<detail::pool_state> st, const detail::request_spec& rq,
                                          const detail::limit_ctx& lim) {
        try {
            co_return co_await detail::send_request(st, rq, lim, false);
        } catch (const detail::stale_connection&) {
        }
        co_return co_await detail::send_request(st, rq, lim, true);
    }

    // RFC 9110 §15.4: 303 turns anything but HEAD into GET; 301 and 302 turn POST into GET
    // (as every browser does); 307 and 308 keep the method and the body.
    static void redirect_method(detail::request_spec& rq, int status) {
        bool to_get = (status == 303 && rq.method != "HEAD") || ((status == 301 || status == 302) && rq.method == "POST");
        if (!to_get) return;
        rq.method = "GET";
        rq.body.clear();
        for (auto name : {"content-length", "content-type", "content-encoding", "transfer-encoding"})
            rq.fields.erase(name);
    }

    static task<response> run(std::shared_ptr<detail::pool_state> st, std::string method, std::string url_text,
                              http::headers fields, std::string body) {
        if (st->closed) throw std::logic_error("corio::http: request on a closed client");
        if (!detail::is_token(method))
            throw std::invalid_argument("corio::http: invalid request method " + detail::excerpt(method));
        detail::request_spec rq; // not braced: GCC 12 mishandles temporaries in a coroutine's braced init
        rq.method = std::move(method);
        rq.target = url::parse(url_text);
        rq.fields = std::move(fields);
        rq.body = std::move(body);
        detail::limit_ctx lim;
        lim.url = rq.target.str();
        lim.ms = st->opts.total_timeout.count();
        if (lim.ms > 0) lim.at = detail::clock::now() + st->opts.total_timeout;
        std::vector<std::string> history;
        for (;;) {
            response r = co_await send_with_retry(st, rq, lim);
            int s = r.status;
            bool redirect = s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
            auto location = r.headers.get("location");
            if (!st->opts.follow_redirects || !redirect || !location) {
                r.history = std::move(history);
                co_return r;
            }
            url next = rq.target.resolve(*location); // https:// here throws url_error
            history.push_back(rq.target.str());
            if (history.size() > st->opts.max_redirects) {
                history.push_back(next.str());
                throw too_many_redirects(st->opts.max_redirects, std::move(history));
            }
            co_await r.release();
            redirect_method(rq, s);
            if (next.host != rq.target.host || next.port != rq.target.port)
                for (auto name : {"authorization", "proxy-authorization", "cookie", "host"}) rq.fields.erase(name);
            rq.target = std::move(next);
        }
    }

    std::shared_ptr<detail::pool_state> st_;
};

} // namespace corio::http
