#pragma once
// signal_set: waiting for signals from a coroutine, asyncio's loop.add_signal_handler as an
// awaitable.
//
//     corio::signal_set sigs{SIGINT, SIGTERM};
//     int signo = co_await sigs.wait();
//
// While a set exists its signals no longer act on the process: each arrival is recorded
// in every set that watches it and returned by the next wait() (arrivals of one signal not
// yet waited for collapse into one, as the kernel does). Destroying the set gives the
// signals back their previous behaviour; an arrival nobody waited for is discarded.
// Signals arrive through the reactor: the loop owns one descriptor for all its sets
// (signalfd on Linux), registered once. Linux delivers a process-directed signal to any
// thread that does not block it, so threads other than the loop's must block the watched
// signals (corio's worker pool blocks them all). A set belongs to the loop that was running
// when it was made: it must not outlive that loop, and must outlive its pending wait()s.
#include <algorithm>
#include <initializer_list>
#include <stdexcept>
#include <vector>

#include "corio/platform/signal_watch.hpp"
#include "corio/event.hpp"
#include "corio/io_wait.hpp"
#include "corio/loop.hpp"
#include "corio/task.hpp"

namespace corio {

class signal_set;

namespace detail {

/// The loop's one signal descriptor and the sets listening to it.
class signal_service final : public loop_service {
public:
    explicit signal_service(event_loop& loop) : loop_(loop) {
        state_.fd = source_.fd();
        loop_.register_io(state_);
    }
    ~signal_service() override { shutdown(); }

    void shutdown() noexcept override {
        if (closed_) return;
        closed_ = true;
        loop_.io_waits().forget(state_); // tasks are gone by now; nothing may be left parked
        loop_.deregister_io(state_);
        source_.close();
    }

    void watch(int signo) {
        if (closed_) throw std::logic_error("corio: signal_set used after its loop ended");
        if (watchers_[signo] == 0) source_.watch(signo);
        ++watchers_[signo];
    }
    void unwatch(int signo) noexcept {
        if (--watchers_[signo] == 0 && !closed_) source_.unwatch(signo);
    }

    void attach(signal_set* s) { sets_.push_back(s); }
    void detach(signal_set* s) noexcept { sets_.erase(std::find(sets_.begin(), sets_.end(), s)); }

    /// Reads every signal that has arrived, without blocking, and records each in the sets
    /// that watch it; wakes the waiting sets if anything came.
    void dispatch();

    io_state& state() noexcept { return state_; }
    bool reader_parked() const noexcept { return state_.reader != nullptr; }

    /// Wakes every wait() parked behind the reader so each looks at its set again.
    void notify_all() noexcept {
        try {
            changed_.set();
        } catch (...) {
        }
        changed_.clear();
    }
    event::awaiter changed() noexcept { return changed_.wait(); }

private:
    event_loop& loop_;
    signal_source source_;
    io_state state_;
    std::vector<signal_set*> sets_;
    unsigned watchers_[max_signal] = {};
    event changed_;
    bool closed_ = false;
};

} // namespace detail

class signal_set {
public:
    /// Starts watching `signals` on the running loop. Throws std::invalid_argument for a
    /// signal that cannot be watched (SIGKILL, SIGSTOP, out of range).
    signal_set(std::initializer_list<int> signals)
        : svc_(&event_loop::current().service<detail::signal_service>()) {
        svc_->attach(this);
        try {
            for (int s : signals) add(s);
        } catch (...) {
            release();
            throw;
        }
    }
    signal_set() : signal_set({}) {}

    ~signal_set() { release(); }
    signal_set(const signal_set&) = delete;
    signal_set& operator=(const signal_set&) = delete;

    void add(int signo) {
        detail::check_signal_number(signo);
        if (contains(signo)) return;
        signals_.reserve(signals_.size() + 1); // nothing can fail after watch() succeeds
        svc_->watch(signo);
        signals_.push_back(signo);
    }

    /// Stops watching `signo`; an arrival of it not yet waited for is dropped.
    void remove(int signo) noexcept {
        auto it = std::find(signals_.begin(), signals_.end(), signo);
        if (it == signals_.end()) return;
        signals_.erase(it);
        pending_.erase(std::remove(pending_.begin(), pending_.end(), signo), pending_.end());
        svc_->unwatch(signo);
    }

    bool contains(int signo) const noexcept {
        return std::find(signals_.begin(), signals_.end(), signo) != signals_.end();
    }
    const std::vector<int>& signals() const noexcept { return signals_; }

    /// Waits for the next watched signal and returns its number. Cancellable: a cancelled
    /// wait loses nothing, the next wait() sees what arrived meanwhile.
    task<int> wait();

private:
    friend class detail::signal_service;

    void release() noexcept {
        if (!svc_) return;
        for (int s : signals_) svc_->unwatch(s);
        signals_.clear();
        svc_->detach(this);
        svc_ = nullptr;
    }

    void record(int signo) {
        if (std::find(pending_.begin(), pending_.end(), signo) == pending_.end())
            pending_.push_back(signo);
    }

    detail::signal_service* svc_;
    std::vector<int> signals_;
    std::vector<int> pending_; // arrived, not yet returned by wait(); oldest first
};

namespace detail {

inline void signal_service::dispatch() {
    bool any = false;
    while (int signo = source_.next()) {
        any = true;
        for (signal_set* s : sets_)
            if (s->contains(signo)) s->record(signo);
    }
    if (!any) return;
    notify_all();
    // The task parked on the descriptor may be waiting for what was just read for it, and
    // the reactor will not report an arrival that is no longer pending: wake it to look.
    loop_.io_waits().wake(state_, io_readable);
}

/// Whoever parks on the descriptor reads it for every set; when it leaves (woken or
/// cancelled) the others are told, so one of them takes over.
struct signal_reader_turn {
    signal_service& svc;
    ~signal_reader_turn() { svc.notify_all(); }
};

} // namespace detail

inline task<int> signal_set::wait() {
    if (!svc_) throw std::logic_error("corio: wait() on a released signal_set");
    for (;;) {
        if (!pending_.empty()) {
            int signo = pending_.front();
            pending_.erase(pending_.begin());
            co_return signo;
        }
        if (signals_.empty())
            throw std::logic_error("corio: wait() on a signal_set that watches no signal");
        svc_->dispatch();
        if (!pending_.empty()) continue;
        if (!svc_->reader_parked()) {
            detail::signal_reader_turn turn{*svc_};
            co_await readable(svc_->state());
        } else {
            co_await svc_->changed();
        }
    }
}

} // namespace corio
