#pragma once
// Linux backend: one epoll instance, edge-triggered registrations, an eventfd to wake it.
#include <cerrno>
#include <system_error>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "corio/detail/io_state.hpp"

namespace corio::detail {

class epoll_reactor {
public:
    epoll_reactor() {
        epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
        if (epfd_ < 0) throw std::system_error(errno, std::system_category(), "epoll_create1");
        wakefd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (wakefd_ < 0) {
            int e = errno;
            ::close(epfd_);
            throw std::system_error(e, std::system_category(), "eventfd");
        }
        epoll_event ev{};
        ev.events = EPOLLIN; // level-triggered: drained on every wake
        ev.data.ptr = nullptr;
        ::epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev);
    }
    ~epoll_reactor() {
        ::close(wakefd_);
        ::close(epfd_);
    }
    epoll_reactor(const epoll_reactor&) = delete;
    epoll_reactor& operator=(const epoll_reactor&) = delete;

    void add(io_state& s) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.ptr = &s;
        if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, s.fd, &ev) < 0)
            throw std::system_error(errno, std::system_category(), "epoll_ctl(ADD)");
        s.registered = true;
    }

    void remove(io_state& s) noexcept {
        if (!s.registered) return;
        ::epoll_ctl(epfd_, EPOLL_CTL_DEL, s.fd, nullptr);
        s.registered = false;
    }

    // Blocks up to timeout_ms (-1: no limit); reports via h.on_io(state*, events), h.on_wake().
    template <class Handler>
    void poll(int timeout_ms, Handler& h) {
        int n = ::epoll_wait(epfd_, events_, max_events, timeout_ms);
        if (n < 0) {
            if (errno == EINTR) return;
            throw std::system_error(errno, std::system_category(), "epoll_wait");
        }
        for (int i = 0; i < n; ++i) {
            const epoll_event& ev = events_[i];
            if (!ev.data.ptr) {
                eventfd_t value;
                (void)::eventfd_read(wakefd_, &value);
                h.on_wake();
                continue;
            }
            unsigned what = 0;
            if (ev.events & (EPOLLIN | EPOLLRDHUP | EPOLLPRI)) what |= io_readable;
            if (ev.events & EPOLLOUT) what |= io_writable;
            if (ev.events & (EPOLLERR | EPOLLHUP)) what |= io_error | io_readable | io_writable;
            h.on_io(static_cast<io_state*>(ev.data.ptr), what);
        }
    }

    // Thread-safe.
    void wake() noexcept { (void)::eventfd_write(wakefd_, 1); }

private:
    static constexpr int max_events = 256;
    int epfd_ = -1;
    int wakefd_ = -1;
    epoll_event events_[max_events];
};

} // namespace corio::detail
