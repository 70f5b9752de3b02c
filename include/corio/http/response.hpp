#pragma once
// corio::http::response: the status and headers of a response, and its body read whole
// or in bounded pieces off the pooled connection, within the request's deadlines.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "corio/detail/chrono.hpp"
#include "corio/errors.hpp"
#include "corio/http/errors.hpp"
#include "corio/http/headers.hpp"
#include "corio/http/pool.hpp"
#include "corio/http/response_parser.hpp"
#include "corio/http/url.hpp"
#include "corio/task.hpp"
#include "corio/time.hpp"

namespace corio::http {

class response;

namespace detail {

/// The limits of a request, and how to name them when they strike.
struct limit_ctx {
    std::optional<clock::time_point> at; // total_timeout's deadline
    std::string url;                     // the URL asked for
    long long ms = 0;                    // total_timeout
    std::chrono::milliseconds read{0};   // read_timeout (0: none)
    std::string reading;                 // the URL whose response is being read
};

/// Awaits `t` (a task or an operation such as a stream read) within the request's deadline.
template <class A>
task<corio::detail::await_result_t<A>> within(A t, const limit_ctx& lim) {
    if (!lim.at) co_return co_await std::move(t);
    auto left = *lim.at - corio::now();
    if (left <= clock::duration::zero()) throw request_timeout(lim.url, lim.ms);
    try {
        co_return co_await corio::wait_for(std::move(t), left);
    } catch (const connect_timeout&) {
        throw;
    } catch (const read_timeout&) {
        throw;
    } catch (const request_timeout&) {
        throw;
    } catch (const corio::timeout_error&) {
        throw request_timeout(lim.url, lim.ms);
    }
}

/// One wait for bytes: read_timeout or what is left of the deadline, whichever is shorter,
/// and that one names the error. Takes everything the stream has buffered, so no byte
/// hides there when the connection goes back to the pool.
inline task<std::string> read_some(connection& c, const limit_ctx& lim) {
    auto op = c.s.read(std::numeric_limits<std::size_t>::max());
    bool own_limit = lim.read.count() > 0 && (!lim.at || corio::now() + lim.read < *lim.at);
    if (!own_limit) co_return co_await within(std::move(op), lim);
    try {
        co_return co_await corio::wait_for(std::move(op), lim.read);
    } catch (const corio::timeout_error&) {
        throw read_timeout(lim.reading, lim.read.count());
    }
}

/// The next parser event, reading from the socket when the parser has used every byte.
inline task<parse_step> next_event(connection& c, const limit_ctx& lim) {
    for (;;) {
        parse_step s = c.parser.feed(std::string_view(c.buf).substr(c.off));
        c.off += s.consumed;
        if (s.event != parse_event::need_more) co_return s;
        std::string data = co_await read_some(c, lim);
        if (data.empty()) co_return c.parser.feed_eof();
        c.buf = std::move(data);
        c.off = 0;
    }
}

/// What reading a body needs once the headers are in.
struct body_state {
    lease held;
    limit_ctx lim;
    bool reusable = true;   // the request did not ask to close
    std::string_view pending; // a body piece not yet handed out (a view into conn().buf)
};

/// Makes room in `out` for `more` bytes (out.size() + more <= limit) for a body of unknown
/// length. Doubling alone would copy a buffer of up to the limit into one twice as large,
/// both resident at once; so once a doubled buffer would pass half the limit, it takes the
/// whole limit and is never copied again. Pages no byte reaches are address space, not
/// memory; where even that is refused, plain doubling (capped at the limit) remains.
inline void grow_body(std::string& out, std::size_t more, std::size_t limit) {
    std::size_t doubled = std::min(limit, std::max(out.size() + more, out.capacity() * 2));
    if (doubled <= limit / 2) return out.reserve(doubled);
    try {
        out.reserve(limit);
    } catch (const std::bad_alloc&) {
        out.reserve(doubled);
    } catch (const std::length_error&) {
        out.reserve(doubled);
    }
}

struct request_spec;

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

    /// The Content-Length the server declared (for HEAD: what GET would send), if any.
    std::optional<std::uint64_t> content_length() const noexcept { return content_length_; }
    /// True once the whole body was read (trailers() is then complete).
    bool at_eof() const noexcept { return done_; }
    const http::headers& trailers() const noexcept { return trailers_; }

    /// The next piece of body, at most `max` bytes (client_options::chunk_size when 0);
    /// "" at the end. Memory stays bounded however large the body is. Each wait for bytes
    /// is bounded by read_timeout (read_timeout) and the request's total_timeout
    /// (request_timeout); a timeout, a broken body or a cancellation closes the connection,
    /// and later reads throw the same error again.
    task<std::string> read_chunk(std::size_t max = 0);
    /// The rest of the body. More than client_options::max_body_size throws body_too_large,
    /// before the buffer grows past it: a body of unknown length costs at most about
    /// max_body_size of memory.
    task<std::string> read();
    /// The body as text (bytes as received: no charset conversion).
    task<std::string> text() { return read(); }
    /// Reads and drops the rest of a small body (up to `up_to` bytes) so the connection
    /// can serve another request; a larger, broken or stalled (read_timeout) one is closed
    /// instead. total_timeout and cancellation still throw.
    task<void> release(std::size_t up_to = 64 * 1024);
    /// Gives up the rest of the body: the connection is closed, never pooled.
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
    /// A response known to be complete without reading (no body left) ends at once.
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
        if (piece.size() > max_body_ - out.size()) { // before any allocation past the limit
            close();
            throw body_too_large(max_body_);
        }
        if (out.empty() && out.capacity() < piece.size()) {
            out = std::move(piece);
            continue;
        }
        if (out.capacity() - out.size() < piece.size()) detail::grow_body(out, piece.size(), max_body_);
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
    } catch (const read_timeout&) { // ... or never come (a redirect is followed all the same)
    }
    body_.reset();
}

} // namespace corio::http
