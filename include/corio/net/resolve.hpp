#pragma once
// resolve(host, port): a numeric host is parsed on the spot; a name goes to getaddrinfo
// on the loop's worker pool, so the loop never blocks on DNS. An unknown host throws
// std::system_error (getaddrinfo's category, or errno's) whose message names the host.
// Cancelling a resolve returns at once; a lookup already running finishes on its worker
// and its answer is dropped.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "corio/net/address.hpp"
#include "corio/task.hpp"
#include "corio/thread_pool.hpp"

namespace corio {

namespace detail {

// Numeric hosts only: the caller falls back to getaddrinfo when this returns false.
inline bool resolve_numeric(std::string_view host, std::uint16_t port, std::vector<endpoint>& out) {
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    auto a = ip_address::parse(host);
    if (!a) return false;
    out.emplace_back(*a, port);
    return true;
}

inline std::vector<endpoint> resolve_blocking(const std::string& host, std::uint16_t port, bool passive) {
    std::vector<endpoint> out;
    for (const sock_addr& a : getaddrinfo_blocking(host, port, passive)) {
        endpoint e = to_endpoint(a);
        bool seen = false; // /etc/hosts may list an address twice
        for (const endpoint& x : out) seen = seen || x == e;
        if (!seen) out.push_back(std::move(e));
    }
    return out;
}

// `passive`: addresses to listen on (an empty host means every interface).
inline task<std::vector<endpoint>> resolve_for(std::string host, std::uint16_t port, bool passive) {
    std::vector<endpoint> out;
    if (resolve_numeric(host, port, out)) co_return out;
    co_return co_await to_thread(&resolve_blocking, std::move(host), port, passive);
}

} // namespace detail

// The addresses `host` names, in getaddrinfo's order of preference.
inline task<std::vector<endpoint>> resolve(std::string host, std::uint16_t port) {
    return detail::resolve_for(std::move(host), port, false);
}

} // namespace corio
