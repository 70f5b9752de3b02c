#pragma once
// An incremental HTTP/1.1 response parser (RFC 9112). Push-style and I/O-free: feed it
// whatever bytes arrived, in any split, and it reports one event at a time -- an interim
// (1xx) response, the status line and headers, a piece of body, the end of the message
// with its trailers. Body pieces are views into the caller's bytes, never copied; only
// the current line is buffered, and every buffer has a limit, so a hostile server cannot
// make it use unbounded memory. Every rejection is a protocol_error naming the problem.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "corio/http/errors.hpp"
#include "corio/http/headers.hpp"

namespace corio::http {

struct parser_limits {
    std::size_t max_status_line = 8 * 1024;
    std::size_t max_header_bytes = 64 * 1024; // a whole field section (headers, or trailers)
    std::size_t max_headers = 100;            // field lines in a section
    std::size_t max_chunk_line = 4 * 1024;    // a chunk-size line with its extensions
    std::size_t max_interim = 16;             // 1xx responses before the final one
};

enum class parse_event {
    need_more, // every byte given was consumed; feed more (or feed_eof)
    interim,   // a 1xx response ended: status() and headers() describe it; parsing goes on
    headers,   // status line and headers of the final response are ready
    body,      // parse_step::data holds the next piece of body
    done,      // the response is complete; trailers() holds any trailer fields
};

enum class body_framing { none, length, chunked, until_close };

struct parse_step {
    std::size_t consumed = 0;   // bytes of the input used, up to and including this event
    parse_event event = parse_event::need_more;
    std::string_view data;      // the body piece, for parse_event::body
};

class response_parser {
public:
    explicit response_parser(parser_limits limits = {}) : limits_(limits) {}

    /// Prepares for the next response. A response to HEAD never has a body.
    void reset(bool head_request = false) {
        state_ = state::status_line;
        head_ = head_request;
        started_ = false;
        line_.clear();
        status_ = 0;
        minor_ = 1;
        reason_.clear();
        headers_.clear();
        trailers_.clear();
        interim_ = 0;
        framing_ = body_framing::none;
        length_ = 0;
        remaining_ = 0;
        received_ = 0;
        declared_.reset();
        keep_alive_ = false;
        error_.clear();
    }

    /// Consumes input up to the next event. need_more means all of it was used; any other
    /// event may leave bytes to pass to the next call. After `done`, further calls return
    /// done and consume nothing: bytes left over then belong to no response.
    parse_step feed(std::string_view in) {
        if (state_ == state::failed) throw protocol_error(error_);
        try {
            return step(in);
        } catch (const protocol_error& e) {
            state_ = state::failed;
            error_ = std::string(e.what()).substr(std::strlen("corio::http: "));
            throw;
        }
    }

    /// The connection reached EOF. Completes a body delimited by the close; anything else
    /// unfinished throws protocol_error (a truncated response is never passed off as whole).
    parse_step feed_eof() {
        switch (state_) {
        case state::failed: throw protocol_error(error_);
        case state::until_close:
        case state::message_end:
        case state::complete: state_ = state::complete; return {0, parse_event::done, {}};
        default: break;
        }
        std::string what;
        if (state_ == state::status_line && !started_)
            what = "connection closed before any response byte arrived";
        else if (state_ == state::status_line || state_ == state::header_line)
            what = "connection closed in the middle of the response headers";
        else if (state_ == state::body_length)
            what = "body cut short: connection closed after " + std::to_string(length_ - remaining_) +
                   " of " + std::to_string(length_) + " bytes";
        else
            what = "body cut short: connection closed in the middle of a chunked body";
        state_ = state::failed;
        error_ = what;
        throw protocol_error(what);
    }

    int status() const noexcept { return status_; }
    std::string_view reason() const noexcept { return reason_; }
    int version_minor() const noexcept { return minor_; } // HTTP/1.<minor>
    const http::headers& headers() const noexcept { return headers_; }
    http::headers& headers() noexcept { return headers_; }
    const http::headers& trailers() const noexcept { return trailers_; }
    http::headers& trailers() noexcept { return trailers_; }
    body_framing framing() const noexcept { return framing_; }
    /// The declared Content-Length, when that is what frames the body.
    std::optional<std::uint64_t> content_length() const noexcept {
        if (framing_ == body_framing::length) return length_;
        return std::nullopt;
    }
    /// The Content-Length the server declared, even where it frames nothing (HEAD, 304).
    std::optional<std::uint64_t> declared_length() const noexcept { return declared_; }
    std::uint64_t body_bytes() const noexcept { return received_; }

    bool started() const noexcept { return started_; }       // a byte of this response arrived
    bool headers_done() const noexcept { return state_ > state::header_line && state_ != state::failed; }
    bool done() const noexcept { return state_ == state::complete; }
    bool failed() const noexcept { return state_ == state::failed; }
    /// Whether the connection may carry another request once this response is done.
    bool keep_alive() const noexcept { return keep_alive_; }

private:
    enum class state {
        status_line, header_line, // order matters: headers_done() compares against these
        body_length, chunk_size, chunk_data, chunk_crlf, trailer_line, until_close,
        message_end, complete, failed
    };

    enum class line_status { partial, complete, too_long };

    /// Appends input to line_ up to LF; complete (the CR, if any, stripped) once a whole
    /// line is there. `room` is how many bytes the line may take, terminator excluded.
    line_status take_line(std::string_view in, std::size_t& used, std::size_t room) {
        std::string_view rest = in.substr(used);
        const void* lf = std::memchr(rest.data(), '\n', rest.size());
        std::size_t take = lf ? static_cast<std::size_t>(static_cast<const char*>(lf) - rest.data())
                              : rest.size();
        if (line_.size() + take > room) return line_status::too_long;
        line_.append(rest.data(), take);
        used += take;
        if (!lf) return line_status::partial;
        ++used;
        if (!line_.empty() && line_.back() == '\r') line_.pop_back();
        return line_status::complete;
    }

    static protocol_error too_long(const char* what, std::size_t limit) {
        return protocol_error(std::string(what) + " (limit " + std::to_string(limit) + " bytes)");
    }

    parse_step step(std::string_view in) {
        std::size_t used = 0;
        while (true) {
            switch (state_) {
            case state::status_line: {
                if (used == in.size()) return {used, parse_event::need_more, {}};
                started_ = true;
                auto r = take_line(in, used, limits_.max_status_line);
                if (r == line_status::too_long) throw too_long("status line too long", limits_.max_status_line);
                if (r == line_status::partial) return {used, parse_event::need_more, {}};
                on_status_line();
                break;
            }
            case state::header_line:
            case state::trailer_line: {
                bool trailer = state_ == state::trailer_line;
                if (used == in.size()) return {used, parse_event::need_more, {}};
                auto r = take_line(in, used, limits_.max_header_bytes - section_bytes_);
                // The terminator counts too, so a flood of empty folded lines is not free.
                if (r == line_status::complete) section_bytes_ += line_.size() + 1;
                if (r == line_status::too_long || section_bytes_ > limits_.max_header_bytes)
                    throw too_long(trailer ? "trailer section too large" : "header section too large",
                                   limits_.max_header_bytes);
                if (r == line_status::partial) return {used, parse_event::need_more, {}};
                if (!line_.empty()) {
                    on_field_line(trailer ? trailers_ : headers_, trailer);
                    break;
                }
                if (trailer) {
                    state_ = state::message_end;
                    break;
                }
                if (auto ev = on_headers_end()) return {used, *ev, {}};
                break;
            }
            case state::body_length:
            case state::chunk_data:
            case state::until_close: {
                if (used == in.size()) return {used, parse_event::need_more, {}};
                std::size_t n = in.size() - used;
                if (state_ != state::until_close && remaining_ < n) n = static_cast<std::size_t>(remaining_);
                std::string_view piece = in.substr(used, n);
                used += n;
                received_ += n;
                if (state_ != state::until_close) {
                    remaining_ -= n;
                    if (remaining_ == 0)
                        state_ = state_ == state::chunk_data ? state::chunk_crlf : state::message_end;
                }
                return {used, parse_event::body, piece};
            }
            case state::chunk_size: {
                if (used == in.size()) return {used, parse_event::need_more, {}};
                auto r = take_line(in, used, limits_.max_chunk_line);
                if (r == line_status::too_long) throw too_long("chunk-size line too long", limits_.max_chunk_line);
                if (r == line_status::partial) return {used, parse_event::need_more, {}};
                on_chunk_size_line();
                break;
            }
            case state::chunk_crlf: {
                // Checked byte by byte: a server that overruns its chunk fails now, not later.
                if (used == in.size()) return {used, parse_event::need_more, {}};
                char c = in[used];
                if (c == '\r' && line_.empty()) {
                    line_ = "\r";
                } else if (c == '\n') {
                    line_.clear();
                    state_ = state::chunk_size;
                } else {
                    throw protocol_error("missing CRLF after chunk data");
                }
                ++used;
                break;
            }
            case state::message_end:
                state_ = state::complete;
                return {used, parse_event::done, {}};
            case state::complete: return {used, parse_event::done, {}};
            case state::failed: throw protocol_error(error_);
            }
        }
    }

    /// HTTP-version SP status-code SP [ reason-phrase ]; "HTTP/1.1 200" without the second
    /// SP is accepted, as most clients do.
    void on_status_line() {
        std::string_view l = line_;
        auto bad = [&] { return protocol_error("malformed status line " + detail::excerpt(l)); };
        if (l.size() < 12 || !l.starts_with("HTTP/") || !detail::is_digit(static_cast<unsigned char>(l[5])) ||
            l[6] != '.' || !detail::is_digit(static_cast<unsigned char>(l[7])) || l[8] != ' ')
            throw bad();
        if (l[5] != '1')
            throw protocol_error("unsupported HTTP version " + detail::excerpt(l.substr(0, 8)));
        int code = 0;
        for (std::size_t i = 9; i < 12; ++i) {
            if (!detail::is_digit(static_cast<unsigned char>(l[i]))) throw bad();
            code = code * 10 + (l[i] - '0');
        }
        if (code < 100 || code > 599)
            throw protocol_error("invalid status code " + std::to_string(code) + " in status line " +
                                 detail::excerpt(l));
        if (l.size() > 12 && l[12] != ' ') throw bad();
        std::string_view reason = l.size() > 12 ? l.substr(13) : std::string_view{};
        if (!detail::is_field_value(reason))
            throw protocol_error("invalid character in reason phrase " + detail::excerpt(reason));
        status_ = code;
        minor_ = l[7] - '0';
        reason_.assign(reason);
        headers_.clear();
        line_.clear();
        section_bytes_ = 0;
        section_fields_ = 0;
        state_ = state::header_line;
    }

    void on_field_line(http::headers& into, bool trailer) {
        std::string_view l = line_;
        const char* section = trailer ? "trailer" : "header";
        if (l[0] == ' ' || l[0] == '\t') {
            // obs-fold: RFC 9112 §5.2 has a user agent replace it with a space.
            if (section_fields_ == 0)
                throw protocol_error(std::string("whitespace before the first ") + section + " line " +
                                     detail::excerpt(l));
            std::string_view more = detail::trim_ows(l);
            if (!detail::is_field_value(more))
                throw protocol_error(std::string("invalid character in folded ") + section + " value " +
                                     detail::excerpt(more));
            std::string& value = into.last_value();
            if (!more.empty()) {
                if (!value.empty()) value += ' ';
                value.append(more);
            }
            line_.clear();
            return;
        }
        auto colon = l.find(':');
        if (colon == std::string_view::npos)
            throw protocol_error(std::string(section) + " line without a colon " + detail::excerpt(l));
        std::string_view name = l.substr(0, colon);
        if (!name.empty() && (name.back() == ' ' || name.back() == '\t'))
            throw protocol_error(std::string("whitespace between ") + section + " name and colon " +
                                 detail::excerpt(l));
        if (!detail::is_token(name))
            throw protocol_error(std::string("invalid ") + section + " name " + detail::excerpt(name));
        std::string_view value = detail::trim_ows(l.substr(colon + 1));
        if (!detail::is_field_value(value))
            throw protocol_error("invalid character in the value of " + std::string(section) + " '" +
                                 std::string(name) + "': " + detail::excerpt(value));
        if (++section_fields_ > limits_.max_headers)
            throw protocol_error(std::string("too many ") + section + " fields (limit " +
                                 std::to_string(limits_.max_headers) + ")");
        into.append_unchecked(std::string(name), std::string(value));
        line_.clear();
    }

    /// RFC 9110 §8.6: 1*DIGIT; a list of identical values is tolerated, differing ones are not.
    std::optional<std::uint64_t> parse_content_length() const {
        std::optional<std::uint64_t> result;
        for (auto& field : headers_) {
            if (!detail::iequals(field.first, "content-length")) continue;
            std::string_view value = field.second; // a lambda cannot capture a structured binding in clang 14
            bool any = false;
            detail::for_each_list_item(value, [&](std::string_view item) {
                any = true;
                std::uint64_t n = 0;
                for (char c : item) {
                    if (!detail::is_digit(static_cast<unsigned char>(c)))
                        throw protocol_error("invalid Content-Length " + detail::excerpt(value));
                    auto d = static_cast<std::uint64_t>(c - '0');
                    if (n > (UINT64_MAX - d) / 10)
                        throw protocol_error("Content-Length too large " + detail::excerpt(value));
                    n = n * 10 + d;
                }
                if (result && *result != n)
                    throw protocol_error("conflicting Content-Length values " + std::to_string(*result) +
                                         " and " + std::to_string(n));
                result = n;
            });
            if (!any) throw protocol_error("empty Content-Length");
        }
        return result;
    }

    /// Decides the framing of the body once the header section is over (RFC 9112 §6.3).
    std::optional<parse_event> on_headers_end() {
        line_.clear();
        if (status_ < 200) {
            if (status_ == 101)
                throw protocol_error("unexpected 101 Switching Protocols (no upgrade was requested)");
            if (++interim_ > limits_.max_interim)
                throw protocol_error("too many interim (1xx) responses (limit " +
                                     std::to_string(limits_.max_interim) + ")");
            state_ = state::status_line;
            return parse_event::interim;
        }
        std::optional<std::uint64_t> length = parse_content_length();
        declared_ = length;
        bool has_te = headers_.contains("transfer-encoding");
        keep_alive_ = minor_ >= 1 ? !headers_.has_token("connection", "close")
                                  : headers_.has_token("connection", "keep-alive");
        if (has_te) {
            if (length)
                throw protocol_error("response has both Transfer-Encoding and Content-Length "
                                     "(RFC 9112 §6.3 treats this as an error)");
            check_transfer_coding();
            if (minor_ == 0) keep_alive_ = false; // §6.1: faulty framing in HTTP/1.0
        }
        if (head_ || status_ == 204 || status_ == 304) {
            framing_ = body_framing::none;
            state_ = state::message_end;
        } else if (has_te) {
            framing_ = body_framing::chunked;
            state_ = state::chunk_size;
        } else if (length) {
            framing_ = body_framing::length;
            length_ = remaining_ = *length;
            state_ = *length ? state::body_length : state::message_end;
        } else {
            framing_ = body_framing::until_close;
            keep_alive_ = false;
            state_ = state::until_close;
        }
        return parse_event::headers;
    }

    /// Only chunked is understood (the client sends no TE field, so a server must not use
    /// any other coding), and it must be applied last and once.
    void check_transfer_coding() const {
        bool chunked_seen = false, any = false;
        for (auto& [name, value] : headers_) {
            if (!detail::iequals(name, "transfer-encoding")) continue;
            detail::for_each_list_item(value, [&](std::string_view item) {
                any = true;
                if (chunked_seen) throw protocol_error("chunked is not the final transfer coding");
                if (!detail::iequals(item, "chunked"))
                    throw protocol_error("unsupported transfer coding " + detail::excerpt(item) +
                                         " (only chunked is supported)");
                chunked_seen = true;
            });
        }
        if (!any) throw protocol_error("empty Transfer-Encoding");
    }

    /// chunk-size [ BWS ";" chunk-ext ] CRLF, size in hex.
    void on_chunk_size_line() {
        std::string_view l = line_;
        std::size_t i = 0;
        std::uint64_t size = 0;
        for (; i < l.size(); ++i) {
            int d = detail::hex_value(static_cast<unsigned char>(l[i]));
            if (d < 0) break;
            if (size > (UINT64_MAX >> 4))
                throw protocol_error("chunk size overflows 64 bits " + detail::excerpt(l));
            size = size << 4 | static_cast<std::uint64_t>(d);
        }
        if (i == 0) throw protocol_error("invalid chunk size " + detail::excerpt(l));
        std::string_view rest = l.substr(i);
        while (!rest.empty() && (rest[0] == ' ' || rest[0] == '\t')) rest.remove_prefix(1);
        if (!rest.empty() && rest[0] != ';') throw protocol_error("invalid chunk size " + detail::excerpt(l));
        if (!detail::is_field_value(rest))
            throw protocol_error("invalid character in chunk extension " + detail::excerpt(rest));
        line_.clear();
        if (size == 0) {
            section_bytes_ = 0;
            section_fields_ = 0;
            state_ = state::trailer_line;
        } else {
            remaining_ = size;
            state_ = state::chunk_data;
        }
    }

    parser_limits limits_;
    state state_ = state::status_line;
    bool head_ = false;
    bool started_ = false;
    bool keep_alive_ = false;
    std::string line_;
    std::size_t section_bytes_ = 0;
    std::size_t section_fields_ = 0;
    int status_ = 0;
    int minor_ = 1;
    std::string reason_;
    http::headers headers_;
    http::headers trailers_;
    std::size_t interim_ = 0;
    body_framing framing_ = body_framing::none;
    std::uint64_t length_ = 0;
    std::uint64_t remaining_ = 0;
    std::uint64_t received_ = 0;
    std::optional<std::uint64_t> declared_;
    std::string error_;
};

} // namespace corio::http
