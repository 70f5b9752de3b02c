#pragma once
// One HTTP request on the pool: a permit, a connection (kept alive or new), the request
// written out, the response's status and headers read back.
#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "corio/detail/chrono.hpp"
#include "corio/errors.hpp"
#include "corio/http/errors.hpp"
#include "corio/http/headers.hpp"
#include "corio/http/pool.hpp"
#include "corio/http/response.hpp"
#include "corio/http/url.hpp"
#include "corio/net/connect.hpp"
#include "corio/sync.hpp"
#include "corio/task.hpp"
#include "corio/time.hpp"

namespace corio::http::detail {

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

/// The caller's connection failed before any response byte: try again on a fresh one.
struct stale_connection {};

inline std::string pool_key(const url& u) {
    return (u.kind == host_kind::ipv6 ? '[' + u.host + ']' : u.host) + ':' + std::to_string(u.port);
}

inline task<void> acquire_permit(corio::semaphore& s) { co_await s.acquire(); }

/// The shorter of connect_timeout and what is left of the request's deadline applies;
/// whichever it was names the error.
inline task<corio::stream> connect_to(const url& u, const limit_ctx& lim, std::chrono::milliseconds limit) {
    auto attempt = corio::open_connection(u.host, u.port);
    bool own_limit = limit.count() > 0 && (!lim.at || corio::now() + limit < *lim.at);
    if (!own_limit) co_return co_await within(std::move(attempt), lim);
    try {
        co_return co_await corio::wait_for(std::move(attempt), limit);
    } catch (const connect_timeout&) {
        throw;
    } catch (const corio::timeout_error&) {
        throw connect_timeout(pool_key(u), limit.count());
    }
}

/// Request line and fields. The defaults (Host, User-Agent, Accept, Connection,
/// Content-Length) give way to the session's fields, which give way to the request's.
/// The body is always framed by Content-Length, so a caller's Transfer-Encoding or a
/// Content-Length that disagrees with the body is refused rather than sent.
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

/// One attempt: a permit, a connection (pooled unless `fresh`), the request, the headers
/// of the response.
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

} // namespace corio::http::detail
