#pragma once
// Picks the reactor backend at compile time (override with CORIO_REACTOR_EPOLL or
// CORIO_REACTOR_KQUEUE) and checks it against the one interface both implement.
#include <concepts>

#include "corio/detail/io_state.hpp"

#if defined(CORIO_REACTOR_KQUEUE)
#include "corio/platform/reactor_kqueue.hpp"
#elif defined(CORIO_REACTOR_EPOLL) || __has_include(<sys/epoll.h>)
#define CORIO_REACTOR_EPOLL 1
#include "corio/platform/reactor_epoll.hpp"
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

#if defined(CORIO_REACTOR_KQUEUE)
using reactor = kqueue_reactor;
#else
using reactor = epoll_reactor;
#endif
static_assert(reactor_backend<reactor>, "reactor backend does not implement the interface");

} // namespace corio::detail
