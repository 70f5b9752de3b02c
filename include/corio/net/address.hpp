#pragma once
// IP addresses and endpoints (address + port, or a Unix socket path). Plain values:
// comparable, cheap to copy, printable as "127.0.0.1:8888", "[::1]:8888" or the path.
#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "corio/platform/socket_ops.hpp"

namespace corio {

class ip_address {
public:
    ip_address() noexcept = default; // 0.0.0.0

    static ip_address v4(std::array<std::uint8_t, 4> b) noexcept {
        ip_address a;
        for (std::size_t i = 0; i < 4; ++i) a.bytes_[i] = b[i];
        return a;
    }
    static ip_address v6(const std::array<std::uint8_t, 16>& b, std::uint32_t scope_id = 0) noexcept {
        ip_address a;
        a.v6_ = true;
        a.bytes_ = b;
        a.scope_ = scope_id;
        return a;
    }
    static ip_address loopback_v4() noexcept { return v4({127, 0, 0, 1}); }
    static ip_address any_v4() noexcept { return {}; }
    static ip_address loopback_v6() noexcept {
        std::array<std::uint8_t, 16> b{};
        b[15] = 1;
        return v6(b);
    }
    static ip_address any_v6() noexcept { return v6({}); }

    /// "192.0.2.1", "2001:db8::1", "fe80::1%eth0"; nullopt if `text` is not a numeric address.
    static std::optional<ip_address> parse(std::string_view text) {
        ip_address a;
        if (detail::parse_ipv4(text, a.bytes_.data())) return a;
        a.v6_ = true;
        if (detail::parse_ipv6(text, a.bytes_.data(), a.scope_)) return a;
        return std::nullopt;
    }
    /// As parse, but throws std::invalid_argument naming the text.
    static ip_address from_string(std::string_view text) {
        if (auto a = parse(text)) return *a;
        throw std::invalid_argument("corio: not an IP address: '" + std::string(text) + "'");
    }

    bool is_v4() const noexcept { return !v6_; }
    bool is_v6() const noexcept { return v6_; }
    /// IPv4: the first 4 bytes are used.
    const std::array<std::uint8_t, 16>& bytes() const noexcept { return bytes_; }
    std::uint32_t scope_id() const noexcept { return scope_; }

    bool is_loopback() const noexcept {
        if (!v6_) return bytes_[0] == 127;
        return *this == loopback_v6();
    }
    bool is_unspecified() const noexcept {
        for (std::size_t i = 0; i < (v6_ ? 16u : 4u); ++i)
            if (bytes_[i]) return false;
        return true;
    }

    std::string to_string() const { return detail::format_ip(v6_, bytes_.data(), scope_); }

    friend bool operator==(const ip_address&, const ip_address&) = default;

private:
    std::array<std::uint8_t, 16> bytes_{};
    std::uint32_t scope_ = 0;
    bool v6_ = false;
};

/// Where a socket is: an IP address and port, or (is_local) a Unix socket path.
class endpoint {
public:
    endpoint() noexcept = default; // 0.0.0.0:0
    endpoint(ip_address address, std::uint16_t port) noexcept : addr_(address), port_(port) {}

    /// A Unix domain socket address. A path starting with '\0' is a Linux abstract name.
    static endpoint local(std::string path) {
        endpoint e;
        e.local_ = true;
        e.path_ = std::move(path);
        return e;
    }

    /// "127.0.0.1:80" or "[::1]:80"; nullopt for anything else.
    static std::optional<endpoint> parse(std::string_view text) {
        std::string_view host, port;
        if (!text.empty() && text.front() == '[') {
            auto close = text.find(']');
            if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
                return std::nullopt;
            host = text.substr(1, close - 1);
            port = text.substr(close + 2);
        } else {
            auto colon = text.rfind(':');
            if (colon == std::string_view::npos) return std::nullopt;
            host = text.substr(0, colon);
            port = text.substr(colon + 1);
            if (host.find(':') != std::string_view::npos) return std::nullopt; // bare IPv6
        }
        if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos)
            return std::nullopt;
        unsigned long p = std::stoul(std::string(port));
        if (p > 65535) return std::nullopt;
        auto a = ip_address::parse(host);
        if (!a || (text.front() == '[') != a->is_v6()) return std::nullopt;
        return endpoint(*a, static_cast<std::uint16_t>(p));
    }

    bool is_ip() const noexcept { return !local_; }
    bool is_v4() const noexcept { return !local_ && addr_.is_v4(); }
    bool is_v6() const noexcept { return !local_ && addr_.is_v6(); }
    bool is_local() const noexcept { return local_; }

    const ip_address& address() const noexcept { return addr_; }
    std::uint16_t port() const noexcept { return port_; }
    const std::string& path() const noexcept { return path_; } // "" for an unnamed Unix socket

    /// "127.0.0.1:8888", "[::1]:8888"; for Unix sockets the path ("@name" when abstract).
    std::string to_string() const {
        if (local_) {
            if (!path_.empty() && path_[0] == '\0') return "@" + path_.substr(1);
            return path_;
        }
        if (addr_.is_v6()) return "[" + addr_.to_string() + "]:" + std::to_string(port_);
        return addr_.to_string() + ":" + std::to_string(port_);
    }

    friend bool operator==(const endpoint&, const endpoint&) = default;

private:
    ip_address addr_;
    std::string path_;
    std::uint16_t port_ = 0;
    bool local_ = false;
};

namespace detail {

inline sock_addr to_sock_addr(const endpoint& e) {
    if (e.is_local()) {
        sock_addr a;
        if (!make_unix(e.path(), a))
            throw std::invalid_argument("corio: bad Unix socket path (empty or longer than " +
                                        std::to_string(max_unix_path) + " bytes): '" + e.path() + "'");
        return a;
    }
    const auto& b = e.address().bytes();
    if (e.is_v4()) return make_ipv4(b.data(), e.port());
    return make_ipv6(b.data(), e.port(), e.address().scope_id());
}

inline endpoint to_endpoint(const sock_addr& a) {
    if (a.family() == AF_UNIX) return endpoint::local(path_of(a));
    if (a.family() != AF_INET && a.family() != AF_INET6) return endpoint();
    std::array<std::uint8_t, 16> bytes;
    std::uint32_t scope;
    ip_of(a, bytes, scope);
    if (a.family() == AF_INET) return endpoint(ip_address::v4({bytes[0], bytes[1], bytes[2], bytes[3]}), port_of(a));
    return endpoint(ip_address::v6(bytes, scope), port_of(a));
}

} // namespace detail

} // namespace corio
