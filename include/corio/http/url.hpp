#pragma once
// URLs for the HTTP client: http:// only, host as a name, dotted IPv4 or bracketed IPv6,
// optional port, path and query kept percent-encoded exactly as they go on the wire.
// Parsing is strict where a mistake would be silent (hosts, ports, schemes) and lenient
// where browsers are (a space or a UTF-8 byte in the path is encoded, not rejected).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "corio/http/errors.hpp"

namespace corio::http {

namespace detail {

inline bool is_alpha(unsigned char c) noexcept { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
inline bool is_digit(unsigned char c) noexcept { return c >= '0' && c <= '9'; }
inline int hex_value(unsigned char c) noexcept {
    if (is_digit(c)) return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}
inline bool is_unreserved(unsigned char c) noexcept {
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}
inline bool is_sub_delim(unsigned char c) noexcept {
    return std::string_view("!$&'()*+,;=").find(static_cast<char>(c)) != std::string_view::npos;
}
inline bool is_pchar(unsigned char c) noexcept {
    return is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '@';
}
inline char to_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

/// A piece of untrusted text fit for an error message: quoted, escaped, shortened.
inline std::string excerpt(std::string_view s, std::size_t max = 64) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "'";
    for (std::size_t i = 0; i < s.size() && i < max; ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
            out += static_cast<char>(c);
        } else {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    if (s.size() > max) out += "...";
    return out + "'";
}

inline void append_escaped(std::string& out, unsigned char c) {
    static constexpr char hex[] = "0123456789ABCDEF";
    out += '%';
    out += hex[c >> 4];
    out += hex[c & 15];
}

/// Re-encodes a path or query taken from a URL: valid %XX escapes and allowed characters
/// stay, anything else (space, UTF-8, a stray '%') is escaped.
inline std::string normalize_component(std::string_view s, bool query) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        bool allowed = is_pchar(c) || c == '/' || (query && c == '?');
        if (c == '%' && i + 2 < s.size() && hex_value(static_cast<unsigned char>(s[i + 1])) >= 0 &&
            hex_value(static_cast<unsigned char>(s[i + 2])) >= 0) {
            out.append(s.substr(i, 3));
            i += 2;
        } else if (allowed) {
            out += static_cast<char>(c);
        } else {
            append_escaped(out, c);
        }
    }
    return out;
}

/// RFC 3986 §5.2.4.
inline std::string remove_dot_segments(std::string_view in) {
    std::string out;
    auto drop_last_segment = [&out] {
        auto slash = out.rfind('/');
        out.erase(slash == std::string::npos ? 0 : slash);
    };
    while (!in.empty()) {
        if (in.starts_with("../")) {
            in.remove_prefix(3);
        } else if (in.starts_with("./")) {
            in.remove_prefix(2);
        } else if (in.starts_with("/./")) {
            in.remove_prefix(2);
        } else if (in == "/.") {
            in = "/";
        } else if (in.starts_with("/../")) {
            in.remove_prefix(3);
            drop_last_segment();
        } else if (in == "/..") {
            in = "/";
            drop_last_segment();
        } else if (in == "." || in == "..") {
            in = {};
        } else {
            std::size_t end = in.find('/', 1);
            if (end == std::string_view::npos) end = in.size();
            out.append(in.substr(0, end));
            in.remove_prefix(end);
        }
    }
    return out;
}

inline bool parse_ipv4(std::string_view s) noexcept {
    int parts = 0;
    while (true) {
        std::size_t n = 0;
        unsigned value = 0;
        while (n < s.size() && is_digit(static_cast<unsigned char>(s[n]))) {
            value = value * 10 + static_cast<unsigned>(s[n] - '0');
            if (++n > 3) return false;
        }
        if (n == 0 || value > 255 || (n > 1 && s[0] == '0')) return false; // no octal guesses
        ++parts;
        s.remove_prefix(n);
        if (s.empty()) return parts == 4;
        if (s[0] != '.' || parts == 4) return false;
        s.remove_prefix(1);
    }
}

/// RFC 4291 text form: up to 8 groups of 1-4 hex digits, one "::", optional dotted tail.
inline bool parse_ipv6(std::string_view s) noexcept {
    int groups = 0;
    bool compressed = false;
    if (s.starts_with("::")) {
        compressed = true;
        s.remove_prefix(2);
        if (s.empty()) return true;
    } else if (s.starts_with(":")) {
        return false;
    }
    while (true) {
        std::size_t n = 0;
        while (n < s.size() && hex_value(static_cast<unsigned char>(s[n])) >= 0) ++n;
        if (n < s.size() && s[n] == '.') { // embedded IPv4 ends the address
            if (!parse_ipv4(s)) return false;
            groups += 2;
            break;
        }
        if (n == 0 || n > 4) return false;
        ++groups;
        s.remove_prefix(n);
        if (s.empty()) break;
        if (s[0] != ':') return false;
        s.remove_prefix(1);
        if (!s.empty() && s[0] == ':') {
            if (compressed) return false;
            compressed = true;
            s.remove_prefix(1);
            if (s.empty()) break;
        } else if (s.empty()) {
            return false; // trailing single ':'
        }
        if (groups > 8) return false;
    }
    return compressed ? groups < 8 : groups == 8;
}

} // namespace detail

/// Escapes every byte except unreserved characters and those in `safe` (Python's
/// urllib.parse.quote, which also keeps '/' by default).
inline std::string percent_encode(std::string_view s, std::string_view safe = "/") {
    std::string out;
    out.reserve(s.size());
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (detail::is_unreserved(c) || (c != '%' && safe.find(ch) != std::string_view::npos))
            out += ch;
        else
            detail::append_escaped(out, c);
    }
    return out;
}

/// Decodes %XX escapes (and '+' as space when asked, for form data). A malformed escape
/// throws url_error rather than guessing.
inline std::string percent_decode(std::string_view s, bool plus_as_space = false) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 2 < s.size() ? detail::hex_value(static_cast<unsigned char>(s[i + 1])) : -1;
            int lo = hi >= 0 ? detail::hex_value(static_cast<unsigned char>(s[i + 2])) : -1;
            if (lo < 0)
                throw url_error("invalid percent-encoding at offset " + std::to_string(i) + " in " +
                                detail::excerpt(s));
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else {
            out += plus_as_space && c == '+' ? ' ' : c;
        }
    }
    return out;
}

enum class host_kind { name, ipv4, ipv6 };

struct url {
    std::string scheme = "http";
    std::string host;        // lower-cased name, dotted IPv4, or IPv6 without brackets
    host_kind kind = host_kind::name;
    std::uint16_t port = 80;
    std::string path = "/";  // percent-encoded, starts with '/'
    std::string query;       // percent-encoded, without the '?'; empty means none

    /// "http://host:port/path?query"; the fragment is never kept (it is not sent).
    static url parse(std::string_view text);

    /// The request-target of an origin-form request: path plus query.
    std::string target() const { return query.empty() ? path : path + '?' + query; }

    /// What goes in the Host header: the port only when it is not 80.
    std::string authority() const {
        std::string a = kind == host_kind::ipv6 ? '[' + host + ']' : host;
        if (port != 80) a += ':' + std::to_string(port);
        return a;
    }

    std::string str() const { return scheme + "://" + authority() + target(); }

    /// A Location header (absolute, scheme-relative, absolute-path or relative) resolved
    /// against this URL, as RFC 3986 §5.2 says.
    url resolve(std::string_view reference) const;

    friend bool operator==(const url&, const url&) = default;
};

namespace detail {

inline std::string_view trim_url(std::string_view s) {
    auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!s.empty() && blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && blank(s.back())) s.remove_suffix(1);
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7f) throw url_error("control character in URL " + excerpt(s));
    }
    return s;
}

/// Splits "path?query#fragment", dropping the fragment.
inline void split_path_query(std::string_view rest, std::string_view& path, std::string_view& query,
                             bool& has_query) {
    if (auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
    auto q = rest.find('?');
    has_query = q != std::string_view::npos;
    path = rest.substr(0, q);
    query = has_query ? rest.substr(q + 1) : std::string_view{};
}

inline void parse_host_port(std::string_view authority, std::string_view whole, url& u) {
    if (authority.find('@') != std::string_view::npos)
        throw url_error("credentials in URLs (user@host) are not supported: " + excerpt(whole));
    std::string_view host, port;
    if (authority.starts_with("[")) {
        auto close = authority.find(']');
        if (close == std::string_view::npos)
            throw url_error("unterminated '[' in host of " + excerpt(whole));
        host = authority.substr(1, close - 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty() && after[0] != ':')
            throw url_error("unexpected text after ']' in " + excerpt(whole));
        port = after.empty() ? after : after.substr(1);
        if (host.find('%') != std::string_view::npos)
            throw url_error("IPv6 zone identifiers are not supported: " + excerpt(whole));
        if (!parse_ipv6(host)) throw url_error("invalid IPv6 address " + excerpt(host));
        u.kind = host_kind::ipv6;
    } else {
        auto colon = authority.find(':');
        host = authority.substr(0, colon);
        port = colon == std::string_view::npos ? std::string_view{} : authority.substr(colon + 1);
        if (host.empty()) throw url_error("missing host in " + excerpt(whole));
        if (host.size() > 253 + 1) throw url_error("host name too long in " + excerpt(whole));
        for (char ch : host) {
            auto c = static_cast<unsigned char>(ch);
            if (c >= 0x80)
                throw url_error("non-ASCII host names are not supported (use the punycode form): " +
                                excerpt(host));
            if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '.' && c != '_')
                throw url_error("invalid character in host " + excerpt(host));
        }
        // A host whose last label is numeric can only be an IPv4 address.
        std::string_view trimmed = host.ends_with(".") ? host.substr(0, host.size() - 1) : host;
        auto dot = trimmed.rfind('.');
        std::string_view last = dot == std::string_view::npos ? trimmed : trimmed.substr(dot + 1);
        bool numeric = !last.empty();
        for (char c : last) numeric = numeric && is_digit(static_cast<unsigned char>(c));
        if (numeric) {
            if (!parse_ipv4(host)) throw url_error("invalid IPv4 address " + excerpt(host));
            u.kind = host_kind::ipv4;
        } else {
            u.kind = host_kind::name;
        }
    }
    u.host.clear();
    for (char c : host) u.host += to_lower(c);
    u.port = 80;
    if (!port.empty()) {
        unsigned long value = 0;
        for (char c : port) {
            if (!is_digit(static_cast<unsigned char>(c)) || value > 65535)
                throw url_error("invalid port " + excerpt(port) + " in " + excerpt(whole));
            value = value * 10 + static_cast<unsigned long>(c - '0');
        }
        if (value == 0 || value > 65535)
            throw url_error("port out of range " + excerpt(port) + " in " + excerpt(whole));
        u.port = static_cast<std::uint16_t>(value);
    }
}

inline bool has_scheme(std::string_view s, std::size_t& colon) {
    colon = s.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    if (!is_alpha(static_cast<unsigned char>(s[0]))) return false;
    for (std::size_t i = 1; i < colon; ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.') return false;
    }
    return true;
}

} // namespace detail

inline url url::parse(std::string_view text) {
    std::string_view whole = detail::trim_url(text);
    std::size_t colon = 0;
    if (!detail::has_scheme(whole, colon) || whole.substr(colon, 3) != "://")
        throw url_error("not an absolute http:// URL: " + detail::excerpt(whole));
    std::string scheme;
    for (char c : whole.substr(0, colon)) scheme += detail::to_lower(c);
    if (scheme == "https")
        throw url_error("https:// URLs are not supported (no TLS; plain http:// only): " + detail::excerpt(whole));
    if (scheme != "http")
        throw url_error("unsupported scheme '" + scheme + "' (only http:// is supported): " +
                        detail::excerpt(whole));
    std::string_view rest = whole.substr(colon + 3);
    std::size_t end = rest.find_first_of("/?#");
    if (end == std::string_view::npos) end = rest.size();
    url u;
    detail::parse_host_port(rest.substr(0, end), whole, u);
    std::string_view path, query;
    bool has_query = false;
    detail::split_path_query(rest.substr(end), path, query, has_query);
    u.path = path.empty() ? std::string("/")
                          : detail::remove_dot_segments(detail::normalize_component(path, false));
    if (u.path.empty()) u.path = "/";
    u.query = detail::normalize_component(query, true);
    return u;
}

inline url url::resolve(std::string_view reference) const {
    std::string_view ref = detail::trim_url(reference);
    std::size_t colon = 0;
    if (detail::has_scheme(ref, colon)) return parse(ref);
    if (ref.starts_with("//")) return parse(scheme + ':' + std::string(ref));
    std::string_view rpath, rquery;
    bool has_query = false;
    detail::split_path_query(ref, rpath, rquery, has_query);
    url out = *this;
    if (rpath.empty()) {
        if (has_query) out.query = detail::normalize_component(rquery, true);
        return out;
    }
    std::string merged;
    if (rpath[0] == '/') {
        merged = detail::normalize_component(rpath, false);
    } else {
        merged = path.substr(0, path.rfind('/') + 1) + detail::normalize_component(rpath, false);
    }
    out.path = detail::remove_dot_segments(merged);
    if (out.path.empty() || out.path[0] != '/') out.path.insert(0, "/");
    out.query = detail::normalize_component(rquery, true);
    return out;
}

} // namespace corio::http
