#pragma once
// The socket side of the OS for TCP and Unix streams: thin syscall wrappers that report
// errno instead of throwing (callers name the address in their errors), address
// conversion, and blocking getaddrinfo for the worker pool.
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

namespace corio::detail {

// Owns a descriptor until it is released or destroyed.
class unique_fd {
public:
    unique_fd() noexcept = default;
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& o) noexcept {
        if (this != &o) reset(std::exchange(o.fd_, -1));
        return *this;
    }
    ~unique_fd() { reset(); }

    int get() const noexcept { return fd_; }
    int release() noexcept { return std::exchange(fd_, -1); }
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }
    explicit operator bool() const noexcept { return fd_ >= 0; }

private:
    int fd_ = -1;
};

[[noreturn]] inline void throw_errno(int err, const std::string& what) {
    throw std::system_error(err, std::system_category(), what);
}

inline bool would_block(int err) noexcept { return err == EAGAIN || err == EWOULDBLOCK; }

// ---------------------------------------------------------------- addresses

struct sock_addr {
    sockaddr_storage storage{};
    socklen_t len = 0;

    int family() const noexcept { return storage.ss_family; }
    sockaddr* get() noexcept { return reinterpret_cast<sockaddr*>(&storage); }
    const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
};

inline sock_addr make_ipv4(const std::uint8_t* bytes4, std::uint16_t port) noexcept {
    sock_addr a;
    auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    std::memcpy(&in->sin_addr, bytes4, 4);
    a.len = sizeof(sockaddr_in);
    return a;
}

inline sock_addr make_ipv6(const std::uint8_t* bytes16, std::uint16_t port, std::uint32_t scope) noexcept {
    sock_addr a;
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    std::memcpy(&in6->sin6_addr, bytes16, 16);
    in6->sin6_scope_id = scope;
    a.len = sizeof(sockaddr_in6);
    return a;
}

inline constexpr std::size_t max_unix_path = sizeof(sockaddr_un{}.sun_path) - 1;

// A path starting with '\0' names a Linux abstract socket (no file).
inline bool make_unix(std::string_view path, sock_addr& out) noexcept {
    if (path.empty() || path.size() > max_unix_path) return false;
    out = sock_addr{};
    auto* un = reinterpret_cast<sockaddr_un*>(&out.storage);
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, path.data(), path.size());
    out.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() +
                                     (path[0] == '\0' ? 0 : 1));
    return true;
}

inline std::uint16_t port_of(const sock_addr& a) noexcept {
    if (a.family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_port);
    if (a.family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&a.storage)->sin6_port);
    return 0;
}

// The address bytes (4 for IPv4, 16 for IPv6) and the IPv6 scope.
inline void ip_of(const sock_addr& a, std::array<std::uint8_t, 16>& bytes, std::uint32_t& scope) noexcept {
    bytes = {};
    scope = 0;
    if (a.family() == AF_INET) {
        std::memcpy(bytes.data(), &reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_addr, 4);
    } else if (a.family() == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a.storage);
        std::memcpy(bytes.data(), &in6->sin6_addr, 16);
        scope = in6->sin6_scope_id;
    }
}

// The path of an AF_UNIX address; "" for an unnamed socket (a connecting client).
inline std::string path_of(const sock_addr& a) {
    if (a.family() != AF_UNIX) return {};
    const auto* un = reinterpret_cast<const sockaddr_un*>(&a.storage);
    std::size_t off = offsetof(sockaddr_un, sun_path);
    if (a.len <= off) return {};
    std::size_t n = a.len - off;
    if (un->sun_path[0] == '\0') return std::string(un->sun_path, n); // abstract: exact bytes
    return std::string(un->sun_path, strnlen(un->sun_path, n));
}

inline bool parse_ipv4(std::string_view text, std::uint8_t* bytes4) {
    char buf[INET_ADDRSTRLEN];
    if (text.empty() || text.size() >= sizeof buf) return false;
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    return ::inet_pton(AF_INET, buf, bytes4) == 1;
}

// Accepts "fe80::1%eth0" and "fe80::1%2" for scoped addresses.
inline bool parse_ipv6(std::string_view text, std::uint8_t* bytes16, std::uint32_t& scope) {
    scope = 0;
    std::string_view addr = text, zone;
    if (auto pct = text.find('%'); pct != std::string_view::npos) {
        addr = text.substr(0, pct);
        zone = text.substr(pct + 1);
        if (zone.empty()) return false;
    }
    char buf[INET6_ADDRSTRLEN];
    if (addr.empty() || addr.size() >= sizeof buf) return false;
    std::memcpy(buf, addr.data(), addr.size());
    buf[addr.size()] = '\0';
    if (::inet_pton(AF_INET6, buf, bytes16) != 1) return false;
    if (zone.empty()) return true;
    if (zone.find_first_not_of("0123456789") == std::string_view::npos && zone.size() < 10) {
        scope = static_cast<std::uint32_t>(std::stoul(std::string(zone)));
        return true;
    }
    scope = ::if_nametoindex(std::string(zone).c_str());
    return scope != 0;
}

inline std::string format_ip(bool v6, const std::uint8_t* bytes, std::uint32_t scope) {
    char buf[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(v6 ? AF_INET6 : AF_INET, bytes, buf, sizeof buf);
    std::string s = buf;
    if (v6 && scope != 0) {
        char name[IF_NAMESIZE] = {};
        s += '%';
        s += ::if_indextoname(scope, name) ? std::string(name) : std::to_string(scope);
    }
    return s;
}

// ---------------------------------------------------------------- name resolution

class gai_error_category final : public std::error_category {
public:
    const char* name() const noexcept override { return "getaddrinfo"; }
    std::string message(int code) const override { return ::gai_strerror(code); }
};

inline const std::error_category& gai_category() noexcept {
    static const gai_error_category category;
    return category;
}

// Blocking: runs on the worker pool. `host` empty means "any" (passive) or loopback.
inline std::vector<sock_addr> getaddrinfo_blocking(const std::string& host, std::uint16_t port,
                                                   bool passive) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM; // one entry per address, not one per socket type
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    addrinfo* list = nullptr;
    std::string service = std::to_string(port);
    int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &list);
    if (rc != 0) {
        std::string what = "cannot resolve host '" + host + "'";
        if (rc == EAI_SYSTEM) throw_errno(errno, what);
        throw std::system_error(rc, gai_category(), what);
    }
    std::vector<sock_addr> out;
    for (addrinfo* ai = list; ai; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
        if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
        sock_addr a;
        std::memcpy(&a.storage, ai->ai_addr, ai->ai_addrlen);
        a.len = ai->ai_addrlen;
        out.push_back(a);
    }
    ::freeaddrinfo(list);
    if (out.empty())
        throw std::system_error(EAI_NONAME, gai_category(), "cannot resolve host '" + host + "'");
    return out;
}

// ---------------------------------------------------------------- socket calls

// A non-blocking, close-on-exec socket. Throws: nothing can be done without one.
inline unique_fd open_socket(int family, int type) {
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
    int fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw_errno(errno, "socket");
    return unique_fd(fd);
#else
    int fd = ::socket(family, type, 0);
    if (fd < 0) throw_errno(errno, "socket");
    unique_fd owned(fd);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    return owned;
#endif
}

inline int set_int_option(int fd, int level, int name, int value) noexcept {
    return ::setsockopt(fd, level, name, &value, sizeof value) == 0 ? 0 : errno;
}

// Stream sockets get TCP_NODELAY (latency over batching, as asyncio does) and, where
// MSG_NOSIGNAL does not exist, SO_NOSIGPIPE.
inline void prepare_stream_socket(int fd, int family) noexcept {
    if (family == AF_INET || family == AF_INET6) set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, 1);
#if !defined(MSG_NOSIGNAL) && defined(SO_NOSIGPIPE)
    set_int_option(fd, SOL_SOCKET, SO_NOSIGPIPE, 1);
#endif
}

// 0 when connected at once, EINPROGRESS (or EAGAIN for Unix sockets) when pending, else errno.
inline int connect_start(int fd, const sock_addr& a) noexcept {
    if (::connect(fd, a.get(), a.len) == 0) return 0;
    int err = errno;
    return err == EINTR ? EINPROGRESS : err;
}

inline int socket_error(int fd) noexcept {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno;
    return err;
}

inline bool local_address(int fd, sock_addr& out) noexcept {
    out = sock_addr{};
    out.len = sizeof out.storage;
    return ::getsockname(fd, out.get(), &out.len) == 0;
}

inline bool peer_address(int fd, sock_addr& out) noexcept {
    out = sock_addr{};
    out.len = sizeof out.storage;
    return ::getpeername(fd, out.get(), &out.len) == 0;
}

// A new non-blocking, close-on-exec descriptor, or -errno.
inline int accept_socket(int fd, sock_addr& peer) noexcept {
    for (;;) {
        peer = sock_addr{};
        peer.len = sizeof peer.storage;
#if defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__)
        int c = ::accept4(fd, peer.get(), &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
        int c = ::accept(fd, peer.get(), &peer.len);
        if (c >= 0) {
            ::fcntl(c, F_SETFD, FD_CLOEXEC);
            ::fcntl(c, F_SETFL, ::fcntl(c, F_GETFL) | O_NONBLOCK);
        }
#endif
        if (c >= 0) return c;
        if (errno != EINTR) return -errno;
    }
}

// Bytes received (0 at EOF) or -errno.
inline long recv_some(int fd, char* buf, std::size_t n) noexcept {
    for (;;) {
        ssize_t r = ::recv(fd, buf, n, 0);
        if (r >= 0) return static_cast<long>(r);
        if (errno != EINTR) return -errno;
    }
}

// For every send: a peer that went away must give EPIPE, not kill the process with
// SIGPIPE (where MSG_NOSIGNAL is missing, stream sockets get SO_NOSIGPIPE instead).
#if defined(MSG_NOSIGNAL)
inline constexpr int send_flags = MSG_NOSIGNAL;
#else
inline constexpr int send_flags = 0;
#endif

// Bytes sent or -errno; never raises SIGPIPE.
inline long send_some(int fd, const char* buf, std::size_t n) noexcept {
    for (;;) {
        ssize_t r = ::send(fd, buf, n, send_flags);
        if (r >= 0) return static_cast<long>(r);
        if (errno != EINTR) return -errno;
    }
}

inline int shutdown_write(int fd) noexcept { return ::shutdown(fd, SHUT_WR) == 0 ? 0 : errno; }

inline unique_fd open_stream_socket(int family) { return open_socket(family, SOCK_STREAM); }

inline bool is_unix_family(int family) noexcept { return family == AF_UNIX; }

// A listening socket bound to `a`; errors name `name` ("bind 127.0.0.1:80: Address
// already in use"). An IPv6 listener is IPv6-only, so "::" and "0.0.0.0" can coexist.
inline unique_fd open_listener(const sock_addr& a, const std::string& name, int backlog,
                               bool reuse_address, bool reuse_port) {
    unique_fd fd = open_socket(a.family(), SOCK_STREAM);
    if (a.family() != AF_UNIX) {
        if (reuse_address) set_int_option(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1);
        if (reuse_port) {
#if defined(SO_REUSEPORT)
            if (int err = set_int_option(fd.get(), SOL_SOCKET, SO_REUSEPORT, 1))
                throw_errno(err, "setsockopt(SO_REUSEPORT) " + name);
#else
            throw_errno(ENOPROTOOPT, "SO_REUSEPORT " + name);
#endif
        }
        if (a.family() == AF_INET6) set_int_option(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, 1);
    }
    if (::bind(fd.get(), a.get(), a.len) < 0) throw_errno(errno, "bind " + name);
    if (::listen(fd.get(), backlog) < 0) throw_errno(errno, "listen " + name);
    return fd;
}

// accept() failures that concern one connection only: skip it and accept the next.
inline bool is_transient_accept_error(int err) noexcept {
    switch (err) {
    case ECONNABORTED:
    case EINTR:
    case EPROTO:
    case EPERM: // refused by a firewall rule
#if defined(ENONET)
    case ENONET:
#endif
    case EHOSTDOWN:
    case EHOSTUNREACH:
    case ENETDOWN:
    case ENETUNREACH:
    case EOPNOTSUPP:
        return true;
    default:
        return false;
    }
}

// Out of descriptors or memory: the connection waits in the backlog until resources free.
inline bool is_resource_exhaustion(int err) noexcept {
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

// A Unix socket file left by a process that died is removed before binding (asyncio
// does the same); anything that is not a socket is left alone, so bind reports it.
inline void remove_stale_unix_socket(const std::string& path) noexcept {
    if (path.empty() || path[0] == '\0') return;
    struct stat st{};
    if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
}

struct file_identity {
    dev_t dev = 0;
    ino_t ino = 0;
    bool valid = false;
};

inline file_identity identify_file(const std::string& path) noexcept {
    struct stat st{};
    if (path.empty() || path[0] == '\0' || ::lstat(path.c_str(), &st) != 0) return {};
    return {st.st_dev, st.st_ino, true};
}

// Removes the socket file a server created, unless something else has replaced it.
inline void unlink_if_same(const std::string& path, const file_identity& id) noexcept {
    if (!id.valid) return;
    file_identity now = identify_file(path);
    if (now.valid && now.dev == id.dev && now.ino == id.ino) ::unlink(path.c_str());
}

inline void close_fd(int fd) noexcept { ::close(fd); }

// The largest listen queue one may ask for; the kernel caps it at net.core.somaxconn.
inline constexpr int max_listen_backlog = SOMAXCONN;

} // namespace corio::detail
