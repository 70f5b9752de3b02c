#pragma once
// resolve(host, port): a numeric host is parsed on the spot; a name goes to getaddrinfo
// on the loop's worker pool, so the loop never blocks on DNS. An unknown host throws
// std::system_error (getaddrinfo's category, or errno's) whose message names the host.
// Cancelling a resolve returns at once; a lookup already running finishes on its worker
// and its answer is dropped.
#include <coroutine>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "corio/net/address.hpp"
#include "corio/task.hpp"
#include "corio/thread_pool.hpp"

namespace corio {

namespace detail {

/// Numeric hosts only: the caller falls back to getaddrinfo when this returns false.
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

/// `passive`: addresses to listen on (an empty host means every interface). An awaiter,
/// not a coroutine: a numeric host (the common case for servers) is answered in
/// await_ready, without a frame; only a name goes to the pool.
class [[nodiscard]] resolve_awaiter {
    using lookup = to_thread_awaiter<std::vector<endpoint> (*)(const std::string&, std::uint16_t, bool),
                                     std::string, std::uint16_t, bool>;

public:
    resolve_awaiter(std::string host, std::uint16_t port, bool passive)
        : host_(std::move(host)), port_(port), passive_(passive) {}

    bool await_ready() { return resolve_numeric(host_, port_, out_); }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
        lookup_.emplace(&resolve_blocking, std::move(host_), port_, passive_);
        return lookup_->await_suspend(h);
    }
    std::vector<endpoint> await_resume() {
        if (lookup_) return lookup_->await_resume();
        return std::move(out_);
    }

private:
    std::string host_;
    std::uint16_t port_;
    bool passive_;
    std::vector<endpoint> out_;
    std::optional<lookup> lookup_;
};

inline resolve_awaiter resolve_for(std::string host, std::uint16_t port, bool passive) {
    return {std::move(host), port, passive};
}

} // namespace detail

/// The addresses `host` names, in getaddrinfo's order of preference.
inline task<std::vector<endpoint>> resolve(std::string host, std::uint16_t port) {
    co_return co_await detail::resolve_for(std::move(host), port, false);
}

} // namespace corio
