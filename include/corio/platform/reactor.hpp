#pragma once
// The loop's reactor. On macOS/BSD, kqueue; on Linux, io_uring or epoll chosen when the
// loop is made (run_options{.backend}, else CORIO_BACKEND=epoll|io_uring, else io_uring
// where the kernel allows it). Both sides implement one interface, checked below.
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>

#include "corio/detail/completion_port.hpp"
#include "corio/detail/io_state.hpp"

#if defined(CORIO_REACTOR_KQUEUE)
#include "corio/platform/reactor_kqueue.hpp"
#elif defined(CORIO_REACTOR_EPOLL) || __has_include(<sys/epoll.h>)
#define CORIO_REACTOR_EPOLL 1
#include "corio/platform/reactor_epoll.hpp"
#if __has_include(<linux/io_uring.h>) && !defined(CORIO_NO_IO_URING)
#include <linux/io_uring.h>
#if defined(IORING_SETUP_DEFER_TASKRUN) && defined(IORING_RECV_MULTISHOT) // 6.1 headers
#define CORIO_HAS_IO_URING 1
#include "corio/platform/reactor_uring.hpp"
#endif
#endif
#elif __has_include(<sys/event.h>)
#define CORIO_REACTOR_KQUEUE 1
#include "corio/platform/reactor_kqueue.hpp"
#else
#error "corio needs epoll (Linux) or kqueue (macOS/BSD)"
#endif

namespace corio::detail {

struct reactor_handler_archetype {
    void on_io(io_state*, unsigned) {}
    void on_wake() {}
};

template <class R>
concept reactor_backend = requires(R r, io_state& s, int timeout_ms, reactor_handler_archetype& h) {
    r.add(s);
    { r.remove(s) } noexcept;
    r.poll(timeout_ms, h);
    { r.wake() } noexcept;
};

/// The backend the environment asks for (CORIO_BACKEND), or automatic.
inline backend backend_from_environment() noexcept {
    const char* v = std::getenv("CORIO_BACKEND");
    if (!v) return backend::automatic;
    if (std::strcmp(v, "epoll") == 0) return backend::epoll;
    if (std::strcmp(v, "io_uring") == 0) return backend::io_uring;
    if (std::strcmp(v, "kqueue") == 0) return backend::kqueue;
    return backend::automatic;
}

#if defined(CORIO_REACTOR_KQUEUE)

class reactor : public kqueue_reactor {
public:
    explicit reactor(backend = backend::automatic) {}
    backend kind() const noexcept { return backend::kqueue; }
    int fallback_error() const noexcept { return 0; }
    completion_port* completions() noexcept { return nullptr; }
    template <class Handler>
    void cancel_all(Handler&) {}
    long ops_in_flight() const noexcept { return 0; }
    void arm_poll(io_state&, bool) {}
};

#else

#if !defined(CORIO_HAS_IO_URING)
/// Headers older than Linux 6.1: never made, so every call below is unreachable.
class uring_reactor final : public completion_port {
public:
    void add(io_state&) {}
    void remove(io_state&) noexcept {}
    template <class Handler>
    void poll(int, Handler&) {}
    void wake() noexcept {}
    void arm_poll(io_state&, bool) {}
    template <class Handler>
    void cancel_all(Handler&) {}
    long ops_in_flight() const noexcept { return 0; }
    void arm(io_state&, multishot, multishot_sink&) override {}
    void pause(io_state&) noexcept override {}
    void send(io_state&, const char*, std::size_t, port_op&) override {}
    void read_at(int, char*, std::size_t, std::uint64_t, port_op&) override {}
    void write_at(int, const char*, std::size_t, std::uint64_t, port_op&) override {}
    void fsync(int, bool, port_op&) override {}
    void connect(int, const void*, unsigned, port_op&) override {}
    void cancel(port_op&) noexcept override {}
};
#endif

class reactor {
public:
    /// `want` automatic or io_uring: io_uring if the kernel sets one up, else epoll (the
    /// reason is kept in fallback_error()).
    explicit reactor(backend want = backend::automatic) {
        if (want == backend::automatic) want = backend_from_environment();
#if defined(CORIO_HAS_IO_URING)
        if (want != backend::epoll && want != backend::kqueue) {
            ring_ = uring_reactor::create(fallback_error_);
            if (ring_) return;
        }
#else
        if (want == backend::io_uring) fallback_error_ = ENOSYS;
#endif
        epoll_.emplace();
    }

    backend kind() const noexcept { return ring_ ? backend::io_uring : backend::epoll; }
    /// Why io_uring is not used (an errno; 0 when it is, or was not asked for).
    int fallback_error() const noexcept { return fallback_error_; }
    /// The ring's completion operations; null on epoll.
    completion_port* completions() noexcept { return ring_.get(); }

    void add(io_state& s) {
        if (ring_) ring_->add(s);
        else epoll_->add(s);
    }
    void remove(io_state& s) noexcept {
        if (ring_) ring_->remove(s);
        else epoll_->remove(s);
    }
    template <class Handler>
    void poll(int timeout_ms, Handler& h) {
        if (ring_) ring_->poll(timeout_ms, h);
        else epoll_->poll(timeout_ms, h);
    }
    void wake() noexcept {
        if (ring_) ring_->wake();
        else epoll_->wake();
    }
    /// A waiter parked on `s`: the ring watches for it (epoll always watches).
    void arm_poll(io_state& s, bool for_write) {
        if (ring_) ring_->arm_poll(s, for_write);
    }
    template <class Handler>
    void cancel_all(Handler& h) {
        if (ring_) ring_->cancel_all(h);
    }
    long ops_in_flight() const noexcept { return ring_ ? ring_->ops_in_flight() : 0; }

private:
    std::unique_ptr<uring_reactor> ring_;
    std::optional<epoll_reactor> epoll_;
    int fallback_error_ = 0;
};

#endif

static_assert(reactor_backend<reactor>, "reactor backend does not implement the interface");

} // namespace corio::detail
