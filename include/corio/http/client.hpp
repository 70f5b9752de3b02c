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
// connect_timeout bounds each connection attempt, read_timeout each wait for response
// bytes, keepalive_timeout the time a connection may sit idle in the pool. A response
// whose body was not read to its end, a timeout or a cancellation (cancelled_error from
// the awaiting co_await) closes its connection instead of pooling it.
//
// Requests take their arguments by value (they are coroutines); a response may outlive
// the client that made it.
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "corio/detail/chrono.hpp"
#include "corio/http/errors.hpp"
#include "corio/http/headers.hpp"
#include "corio/http/pool.hpp"
#include "corio/http/request.hpp"
#include "corio/http/response.hpp"
#include "corio/http/url.hpp"
#include "corio/task.hpp"

namespace corio::http {

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

    /// Closes the idle connections; those in use close when their response ends. Later
    /// requests throw std::logic_error.
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

    /// RFC 9110 §15.4: 303 turns anything but HEAD into GET; 301 and 302 turn POST into GET
    /// (as every browser does); 307 and 308 keep the method and the body.
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
        if (lim.ms > 0) lim.at = corio::now() + st->opts.total_timeout;
        lim.read = st->opts.read_timeout;
        std::vector<std::string> history;
        for (;;) {
            lim.reading = rq.target.str();
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
