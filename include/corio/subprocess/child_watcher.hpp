#pragma once
// Reaping child processes without blocking the loop. Each child has a `child_state`,
// shared by its `process` object and the loop's `child_watcher` service, which reaps the
// child when it exits whether or not a `process` still refers to it: a process object
// destroyed early leaves no zombie behind.
//
// Linux 5.3+: one pidfd per child, registered with the reactor; its readable edge means
// the child has ended, and waitid(P_PID, pid, WNOHANG) reaps exactly that child. The watch
// is a background io_waiter (no task, no frame), not counted as outstanding I/O, so a
// running child does not keep the loop's shutdown waiting.
// Where pidfd_open fails (older kernels, or CORIO_SUBPROCESS_NO_PIDFD=1 in the environment
// when the loop first starts a child, which the tests use): the loop watches SIGCHLD with a
// signal_set and, on each arrival, tries waitid(WNOHANG) on each of its own children, never
// on "any child", so other users of SIGCHLD and their children are left alone. The
// fallback serves one loop per process: SIGCHLD is one pending signal for the process, and
// the loop that reads it does not pass it on to another loop's watcher. macOS and the BSDs
// have no pidfd and their signal watcher ignores watched signals (for SIGCHLD that discards
// exit statuses): they need an EVFILT_PROC variant, which is not written yet.
//
// When the loop ends, children still running are sent SIGKILL and reaped (the wait after
// SIGKILL is short), so nothing outlives the loop as a zombie; asyncio kills the child
// when its transport is closed or collected, to the same end.
#include <cstdlib>
#include <memory>
#include <optional>
#include <vector>

#include "corio/event.hpp"
#include "corio/loop.hpp"
#include "corio/platform/process_ops.hpp"
#include "corio/signal.hpp"
#include "corio/spawn.hpp"
#include "corio/task.hpp"

namespace corio::detail {

class child_watcher;

/// One child: its pid, and its returncode once reaped.
struct child_state : io_waiter {
    explicit child_state(int p) noexcept : pid(p) { background = true; }
    child_state(const child_state&) = delete;
    child_state& operator=(const child_state&) = delete;

    int pid;
    std::optional<int> returncode;
    event exited;           // set once, when reaped
    io_state io;            // the pidfd (fd -1 when watched through SIGCHLD)
    child_watcher* watcher = nullptr;

    void on_pidfd_ready() noexcept; // an edge of the pidfd: the child may have exited
};

class child_watcher final : public loop_service {
public:
    explicit child_watcher(event_loop& loop) : loop_(loop) {
        const char* off = std::getenv("CORIO_SUBPROCESS_NO_PIDFD");
        use_pidfd_ = !(off && *off && *off != '0');
    }
    ~child_watcher() override { shutdown(); }

    /// Whether children are watched through pidfds (false: SIGCHLD).
    bool uses_pidfd() const noexcept { return use_pidfd_; }
    /// Children started on this loop and not reaped yet.
    std::size_t live() const noexcept { return live_.size(); }

    /// Starts watching a child just spawned. Never fails to take it: without a pidfd the
    /// child is watched through SIGCHLD.
    void watch(std::shared_ptr<child_state> c) {
        live_.reserve(live_.size() + 1);
        c->watcher = this;
        child_state& s = *c;
        live_.push_back(std::move(c));
        if (use_pidfd_ && watch_pidfd(s)) return;
        try {
            start_sigchld();
        } catch (...) { // no signal watching either: reaped when the loop ends
        }
        int code = 0;
        if (try_reap(s.pid, code)) finish(s, code); // it may have ended before SIGCHLD was watched
    }

    /// Reaps the children watched through SIGCHLD that have ended.
    void reap_sigchld_children() {
        for (std::size_t i = 0; i < live_.size();) {
            child_state& s = *live_[i];
            int code = 0;
            if (s.io.fd < 0 && try_reap(s.pid, code)) {
                finish(s, code); // removes live_[i]
                continue;
            }
            ++i;
        }
    }

    void shutdown() noexcept override {
        if (closed_) return;
        closed_ = true;
        sigchld_.reset(); // its signal service may be destroyed before this one
        while (!live_.empty()) {
            child_state& s = *live_.back();
            int code = 0;
            if (!try_reap(s.pid, code)) {
                signal_process(s.pid, SIGKILL);
                code = reap_blocking(s.pid);
            }
            finish(s, code);
        }
    }

private:
    bool watch_pidfd(child_state& s) {
        int fd = open_pidfd(s.pid);
        if (fd < 0) return false;
        s.io.fd = fd;
        try {
            loop_.register_io(s.io);
        } catch (...) {
            close_descriptor(fd);
            s.io.fd = -1;
            return false;
        }
        s.ready_fn = thunk<io_waiter, &child_state::on_pidfd_ready, void>;
        int code = 0;
        if (try_reap(s.pid, code)) {
            finish(s, code);
            return true;
        }
        loop_.io_waits().park(s.io, false, s); // an exit from now on is an edge of the pidfd
        return true;
    }

    void on_pidfd_ready(child_state& s) noexcept {
        int code = 0;
        if (try_reap(s.pid, code))
            finish(s, code);
        else
            loop_.io_waits().park(s.io, false, s); // not ended yet: the next edge
    }
    friend child_state;

    /// The child is reaped: close its pidfd, publish the returncode, drop the loop's share.
    void finish(child_state& s, int code) noexcept {
        if (s.io.fd >= 0) {
            loop_.io_waits().unpark(s.io, false, s);
            loop_.deregister_io(s.io);
            close_descriptor(s.io.fd);
            s.io.fd = -1;
        }
        s.returncode = code;
        try {
            s.exited.set();
        } catch (...) {
        }
        for (std::size_t i = 0; i < live_.size(); ++i) {
            if (live_[i].get() == &s) {
                std::shared_ptr<child_state> keep = std::move(live_[i]); // `s` lives to the end
                live_[i] = std::move(live_.back());
                live_.pop_back();
                return;
            }
        }
    }

    void start_sigchld() {
        if (sigchld_) return;
        sigchld_ = std::make_unique<signal_set>(std::initializer_list<int>{SIGCHLD});
        (void)spawn(reap_on_sigchld(*this));
    }

    static task<void> reap_on_sigchld(child_watcher& self) {
        signal_set& set = *self.sigchld_;
        for (;;) {
            self.reap_sigchld_children();
            (void)co_await set.wait();
        }
    }

    event_loop& loop_;
    std::vector<std::shared_ptr<child_state>> live_;
    std::unique_ptr<signal_set> sigchld_;
    bool use_pidfd_ = true;
    bool closed_ = false;
};

inline void child_state::on_pidfd_ready() noexcept { watcher->on_pidfd_ready(*this); }

} // namespace corio::detail
