#pragma once
// The HTTP client's own exceptions. Socket failures stay std::system_error, timeouts stay
// corio::timeout_error and cancellation stays corio::cancelled_error, as everywhere else.
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "corio/errors.hpp"

namespace corio::http {

/// Base of every error the HTTP layer raises itself.
class error : public std::runtime_error {
public:
    explicit error(const std::string& what) : std::runtime_error("corio::http: " + what) {}
};

/// A URL that cannot be used: malformed, or a scheme corio does not speak (https).
class url_error : public error {
public:
    explicit url_error(const std::string& what) : error(what) {}
};

/// The server broke HTTP/1.1: malformed status line or fields, bad framing, a limit
/// exceeded, a body cut short. The connection it came from is never reused.
class protocol_error : public error {
public:
    explicit protocol_error(const std::string& what) : error(what) {}
};

/// More redirects than the client allows; `history` lists the URLs visited, in order.
class too_many_redirects : public error {
public:
    too_many_redirects(std::size_t limit, std::vector<std::string> visited)
        : error("too many redirects (limit " + std::to_string(limit) + "), last: " +
                (visited.empty() ? std::string("?") : visited.back())),
          history(std::move(visited)) {}
    std::vector<std::string> history;
};

/// A whole-body read (read(), text()) would exceed the client's max_body_size.
class body_too_large : public error {
public:
    body_too_large(std::size_t limit)
        : error("response body exceeds max_body_size (" + std::to_string(limit) + " bytes)"),
          limit(limit) {}
    std::size_t limit;
};

/// raise_for_status() on a 4xx or 5xx response.
class status_error : public error {
public:
    status_error(int code, const std::string& reason, const std::string& url)
        : error(std::to_string(code) + (reason.empty() ? "" : " " + reason) + " for " + url), status(code) {}
    int status;
};

// Timeouts are corio::timeout_error (catch that for any); these say which limit struck.

/// connect_timeout: one connection attempt.
class connect_timeout : public corio::timeout_error {
public:
    explicit connect_timeout(const std::string& target, long long ms)
        : message_("corio::http: connecting to " + target + " timed out after " + std::to_string(ms) + " ms") {}
    const char* what() const noexcept override { return message_.c_str(); }

private:
    std::string message_;
};

/// total_timeout: the request as a whole, redirects and body included.
class request_timeout : public corio::timeout_error {
public:
    explicit request_timeout(const std::string& url, long long ms)
        : message_("corio::http: request to " + url + " timed out (total_timeout " + std::to_string(ms) + " ms)") {}
    const char* what() const noexcept override { return message_.c_str(); }

private:
    std::string message_;
};

/// read_timeout: no byte of the response (headers or body) for that long.
class read_timeout : public corio::timeout_error {
public:
    explicit read_timeout(const std::string& url, long long ms)
        : message_("corio::http: reading the response from " + url + " timed out (read_timeout " +
                   std::to_string(ms) + " ms without a byte)") {}
    const char* what() const noexcept override { return message_.c_str(); }

private:
    std::string message_;
};

} // namespace corio::http
