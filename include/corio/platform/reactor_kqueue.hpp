#pragma once
// macOS/BSD backend: kqueue with EV_CLEAR (edge-triggered) read and write filters, and a
// self-pipe to wake it. Written to the same interface as the epoll backend; it cannot be
// built on the Linux machines this project is tested on (see README).
#include <cerrno>
#include <system_error>

#include <fcntl.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

#include "corio/detail/io_state.hpp"

namespace corio::detail {

class kqueue_reactor {
public:
    kqueue_reactor() {
        kq_ = ::kqueue();
        if (kq_ < 0) throw std::system_error(errno, std::system_category(), "kqueue");
        if (::pipe(pipe_) < 0) {
            int e = errno;
            ::close(kq_);
            throw std::system_error(e, std::system_category(), "pipe");
        }
        for (int fd : {kq_, pipe_[0], pipe_[1]}) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
        for (int fd : pipe_) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        struct kevent ev;
        EV_SET(&ev, pipe_[0], EVFILT_READ, EV_ADD, 0, 0, nullptr);
        ::kevent(kq_, &ev, 1, nullptr, 0, nullptr);
    }
    ~kqueue_reactor() {
        ::close(pipe_[0]);
        ::close(pipe_[1]);
        ::close(kq_);
    }
    kqueue_reactor(const kqueue_reactor&) = delete;
    kqueue_reactor& operator=(const kqueue_reactor&) = delete;

    void add(io_state& s) {
        struct kevent ev[2];
        EV_SET(&ev[0], s.fd, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, &s);
        EV_SET(&ev[1], s.fd, EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, 0, &s);
        if (::kevent(kq_, ev, 2, nullptr, 0, nullptr) < 0)
            throw std::system_error(errno, std::system_category(), "kevent(EV_ADD)");
        s.registered = true;
    }

    void remove(io_state& s) noexcept {
        if (!s.registered) return;
        struct kevent ev[2];
        EV_SET(&ev[0], s.fd, EVFILT_READ, EV_DELETE, 0, 0, nullptr);
        EV_SET(&ev[1], s.fd, EVFILT_WRITE, EV_DELETE, 0, 0, nullptr);
        ::kevent(kq_, ev, 2, nullptr, 0, nullptr);
        s.registered = false;
    }

    template <class Handler>
    void poll(int timeout_ms, Handler& h) {
        timespec ts{timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
        int n = ::kevent(kq_, nullptr, 0, events_, max_events, timeout_ms < 0 ? nullptr : &ts);
        if (n < 0) {
            if (errno == EINTR) return;
            throw std::system_error(errno, std::system_category(), "kevent");
        }
        for (int i = 0; i < n; ++i) {
            const struct kevent& ev = events_[i];
            if (!ev.udata) {
                char buf[64];
                while (::read(pipe_[0], buf, sizeof buf) > 0) {
                }
                h.on_wake();
                continue;
            }
            unsigned what = ev.filter == EVFILT_READ ? io_readable : io_writable;
            if (ev.flags & (EV_EOF | EV_ERROR)) what |= io_error;
            h.on_io(static_cast<io_state*>(ev.udata), what);
        }
    }

    void wake() noexcept {
        char c = 1;
        (void)::write(pipe_[1], &c, 1);
    }

private:
    static constexpr int max_events = 256;
    int kq_ = -1;
    int pipe_[2] = {-1, -1};
    struct kevent events_[max_events];
};

} // namespace corio::detail
