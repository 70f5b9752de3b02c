#pragma once
// event_loop: one per thread. Ready queue, timer heap, reactor, the queue other threads
// post to, the list of spawned tasks, and the services (worker pool, ...) it owns.
#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <typeinfo>
#include <utility>

#include "corio/detail/callback.hpp"
#include "corio/detail/chrono.hpp"
#include "corio/detail/foreign_loop.hpp"
#include "corio/detail/intrusive_list.hpp"
#include "corio/detail/io_waits.hpp"
#include "corio/platform/reactor.hpp"
#include "corio/detail/scheduler.hpp"
#include "corio/platform/spin.hpp"
#include "corio/platform/thread.hpp"
#include "corio/detail/task_debug.hpp"
#include "corio/detail/timer_heap.hpp"
#include "corio/detail/unhandled.hpp"
#include "corio/errors.hpp"

namespace corio {

class event_loop;

namespace detail {

/// A spawned task as the loop sees it: something to cancel at shutdown, and to destroy if
/// it will not finish.
struct root_base : list_hook {
    cancel_slot slot;
    virtual void abandon() noexcept = 0; // destroy the frame of a task that cannot finish
protected:
    ~root_base() = default;
};

/// Work handed to the loop from another thread; intrusive so it can live in an awaiter.
struct remote_item {
    remote_item* next = nullptr;
    void (*fn)(remote_item*) = nullptr;
};

/// Long-lived helpers owned by a loop (the worker pool, the signal watcher...), shut down
/// before the loop's own state goes away. The loop chains them itself (newest first), so
/// looking one up instantiates no container.
struct loop_service {
    virtual ~loop_service() = default;
    virtual void shutdown() noexcept {}

private:
    friend class corio::event_loop;
    const std::type_info* key_ = nullptr;
    loop_service* next_ = nullptr;
};

inline thread_local event_loop* current_loop_ptr = nullptr;

} // namespace detail

/// Any callable taking std::exception_ptr (a lambda, a std::function...).
using exception_handler = detail::callback<void(std::exception_ptr)>;

class event_loop : public detail::scheduler {
public:
    using clock = std::chrono::steady_clock;

    /// `b`: the kernel interface to wait with (see corio::backend); automatic reads
    /// CORIO_BACKEND, then takes io_uring where the kernel allows it.
    explicit event_loop(corio::backend b = corio::backend::automatic) : reactor_(b) {
        if (detail::current_loop_ptr)
            throw std::logic_error("corio: an event loop is already running on this thread");
        static std::atomic<std::uint64_t> count{0};
        id_ = count.fetch_add(1, std::memory_order_relaxed) + 1;
        thread_ = detail::current_thread_id();
        detail::current_loop_ptr = this;
        detail::current_scheduler_ptr = this;
        if (reactor_.completions()) io_waits_.set_arm_hook(detail::thunk<void, &event_loop::arm_poll>, this);
    }
    ~event_loop() {
        shutdown();
        // A thread whose post this loop has already run may still be inside
        // post_threadsafe, about to wake the reactor: wait until it is out.
        while (posting_.load(std::memory_order_acquire) != 0) detail::cpu_relax();
        detail::current_loop_ptr = nullptr;
        detail::current_scheduler_ptr = nullptr;
    }
    event_loop(const event_loop&) = delete;
    event_loop& operator=(const event_loop&) = delete;

    static event_loop& current() {
        if (!detail::current_loop_ptr)
            throw std::logic_error("corio: no event loop is running on this thread (use corio::run)");
        return *detail::current_loop_ptr;
    }

    /// The loop's clock: steady_clock, or the virtual clock (use_virtual_time()). Every
    /// corio timer reads it.
    clock::time_point time() const noexcept {
        return clock::time_point(std::chrono::duration_cast<clock::duration>(std::chrono::nanoseconds(now_ns())));
    }
    std::int64_t now_ns() const noexcept { return virtual_time_ ? virtual_now_ns_ : to_ns(clock::now()); }

    /// Virtual time (trio's autojump clock): the clock stands still while tasks run, and when
    /// the loop has nothing to do but wait for a timer it jumps to that timer's deadline
    /// instead of sleeping. It runs with real time only while the loop really waits: for
    /// pool work (to_thread, files) or cross-thread posts that are expected back, or, with no
    /// timer left, for I/O. Descriptors count as settled when a non-blocking poll finds
    /// nothing, which holds for loopback traffic between tasks of this loop; a peer in
    /// another thread or process may answer after the clock has jumped past a timeout.
    /// Usually set through run_options{.clock = corio::virtual_time}.
    void use_virtual_time(bool on = true) noexcept {
        if (on && !virtual_time_) virtual_now_ns_ = to_ns(clock::now());
        virtual_time_ = on;
        special_ = virtual_time_ || debug_;
    }

    /// Debug mode (asyncio's): a step that holds the loop longer than
    /// detail::debug().slow_step is reported once per task, with its name and where it
    /// resumed and stopped; the debug build's reports (a task that never ran) are on.
    /// Usually set through run_options{.debug = true} or CORIO_DEBUG=1 in the environment.
    void set_debug(bool on = true) noexcept {
        if (on && !debug_ && reactor_.fallback_error())
            std::fprintf(stderr, "corio: io_uring is unavailable (%s): the loop uses epoll\n",
                         std::strerror(reactor_.fallback_error()));
        debug_ = on;
        detail::debug().enabled = on;
        special_ = virtual_time_ || debug_;
    }
    bool debug() const noexcept { return debug_; }
    /// The kernel interface this loop waits with: epoll, kqueue or io_uring.
    corio::backend backend() const noexcept { return reactor_.kind(); }
    /// io_uring's operations (multishot recv, send, file reads and writes); null on epoll
    /// and kqueue, where operations wait for readiness and make their own syscalls.
    detail::completion_port* completions() noexcept { return reactor_.completions(); }
    bool virtual_time() const noexcept { return virtual_time_; }

    /// Numbers the loops of the process from 1; errors name a loop by it and by the
    /// thread (its kernel id on Linux, as gdb and top show it) the loop was made on.
    std::uint64_t id() const noexcept { return id_; }
    long thread_id() const noexcept { return thread_; }

    /// Runs fn on the loop thread in a later turn (asyncio's call_soon).
    template <class F>
    void call_soon(F fn) {
        auto* box = new detail::callback<void()>(std::move(fn));
        post(&run_boxed, box);
    }

    /// Thread-safe: may be called from any thread; wakes the loop if it sleeps.
    template <class F>
    void call_soon_threadsafe(F fn) {
        auto* b = new boxed_remote(std::move(fn));
        b->fn = detail::thunk<detail::remote_item, &boxed_remote::post>;
        post_threadsafe(b);
    }

    /// Lock-free push; the loop runs item->fn on its own thread.
    void post_threadsafe(detail::remote_item* item) noexcept {
        posting_.fetch_add(1, std::memory_order_seq_cst); // before the item can be seen
        detail::remote_item* head = remote_.load(std::memory_order_relaxed);
        do {
            item->next = head;
        } while (!remote_.compare_exchange_weak(head, item, std::memory_order_seq_cst,
                                                std::memory_order_relaxed));
        // Only the first item after a drain needs to wake the loop, and not even that one
        // while the loop polls for it (seq_cst pairs with spin_for_remote's store and load).
        if (!head && !spinning_.load(std::memory_order_seq_cst)) reactor_.wake();
        posting_.fetch_sub(1, std::memory_order_release);
    }

    /// Work another thread will post back (pool jobs): keeps shutdown waiting for it, and
    /// lets the loop poll for it briefly before blocking (see turn()).
    void add_external_work() noexcept {
        ++external_work_;
        ++posts_expected_;
    }
    void remove_external_work() noexcept {
        --external_work_;
        --posts_expected_;
    }

    void set_exception_handler(exception_handler h) { handler_ = std::move(h); }

    /// Reports an exception nobody will see otherwise (a failed task never awaited).
    void report(std::exception_ptr e) noexcept {
        try {
            if (handler_)
                handler_(e);
            else
                default_report(e);
        } catch (...) {
        }
    }

    /// Timers.
    static std::int64_t to_ns(clock::time_point t) noexcept {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    }
    void add_timer(detail::timer_node* n, std::int64_t deadline_ns) { timers_.push(n, deadline_ns); }
    void cancel_timer(detail::timer_node* n) noexcept {
        if (n->pending()) timers_.remove(n);
    }

    /// Descriptors.
    void register_io(detail::io_state& s) {
        reactor_.add(s);
        s.loop = this;
    }
    void deregister_io(detail::io_state& s) noexcept { reactor_.remove(s); }
    detail::reactor& reactor() noexcept { return reactor_; }
    /// Who waits on which descriptor (io_wait.hpp parks there; the reactor wakes there).
    detail::io_waits& io_waits() noexcept { return io_waits_; }

    /// Spawned tasks (spawn.hpp).
    void adopt(detail::root_base& r) noexcept { roots_.push_back(r); }
    static void release(detail::root_base& r) noexcept {
        if (r.linked()) detail::intrusive_list<detail::root_base>::erase(r);
    }

    /// The loop's services, created on first use and shut down with the loop.
    template <class Service>
    Service& service() {
        if (detail::loop_service* s = find_service(typeid(Service))) return static_cast<Service&>(*s);
        auto* s = new Service(*this);
        add_service(typeid(Service), s);
        return *s;
    }

    /// Runs until `done` becomes true.
    void run_until(const bool& done) {
        while (!done) turn();
    }

    /// One turn: poll the reactor (without blocking if work is ready), fire due timers,
    /// run what was ready. Before blocking while pool jobs are out, poll briefly for their
    /// results: a job that takes microseconds then costs no eventfd wake-up, and the loop's
    /// CPU no cold wake-up. The reactor is still polled, without blocking, so a stream of
    /// quick jobs cannot starve I/O.
    void turn() {
        if (special_) [[unlikely]]
            return special_turn();
        drain_remote();
        int timeout = ready_.empty() ? poll_timeout() : 0;
        if (timeout != 0 && posts_expected_ > 0 && spin_for_remote()) {
            drain_remote();
            timeout = 0;
        }
        poll(timeout);
        fire_timers();
        run_ready_batch();
    }

    /// Cancels every task still running, lets them unwind, then destroys what cannot
    /// finish and stops the services. Called by run() and by the destructor.
    void shutdown() noexcept {
        if (shut_down_) return;
        try {
            roots_.for_each([](detail::root_base& r) { r.slot.request(); });
            while (!roots_.empty() && can_progress()) turn();
        } catch (...) {
        }
        while (!roots_.empty()) {
            detail::root_base& r = roots_.pop_front();
            r.abandon();
        }
        for (detail::loop_service* s = services_; s; s = s->next_) s->shutdown(); // newest first
        try {
            reactor_.cancel_all(*this); // the kernel lets go of every buffer it was given
            // Jobs the services finished late still post back; run them so their frames end.
            while (!ready_.empty() || remote_.load() != nullptr) {
                drain_remote();
                run_ready_batch();
            }
        } catch (...) {
        }
        detail::loop_service* oldest_first = nullptr;
        while (detail::loop_service* s = services_) {
            services_ = s->next_;
            s->next_ = oldest_first;
            oldest_first = s;
        }
        while (detail::loop_service* s = oldest_first) { // destroyed in creation order
            oldest_first = s->next_;
            delete s;
        }
        shut_down_ = true;
    }

    /// Reactor callbacks.
    void on_io(detail::io_state* s, unsigned what) noexcept { io_waits_.wake(*s, what); }
    void on_wake() noexcept {}

private:
    static void run_boxed(void* p) {
        std::unique_ptr<detail::callback<void()>> f(static_cast<detail::callback<void()>*>(p));
        try {
            (*f)();
        } catch (...) {
            current().report(std::current_exception());
        }
    }

    struct boxed_remote : detail::remote_item {
        template <class F>
        explicit boxed_remote(F&& g) : f(std::forward<F>(g)) {}
        detail::callback<void()> f;

        void post() {
            std::unique_ptr<boxed_remote> self(this);
            fn = nullptr;
            current().call_soon(std::move(f));
        }
    };

    detail::loop_service* find_service(const std::type_info& key) const noexcept {
        for (detail::loop_service* s = services_; s; s = s->next_)
            if (s->key_ == &key) return s;
        return nullptr;
    }
    void add_service(const std::type_info& key, detail::loop_service* s) noexcept {
        s->key_ = &key;
        s->next_ = services_;
        services_ = s;
    }

    bool can_progress() const noexcept {
        return !ready_.empty() || !timers_.empty() || external_work_ > 0 || io_waits_.parked() > 0 ||
               reactor_.ops_in_flight() > 0 ||
               remote_.load(std::memory_order_acquire) != nullptr;
    }

    int poll_timeout() const noexcept {
        if (!ready_.empty()) return 0;
        if (timers_.empty()) return -1;
        std::int64_t diff = timers_.next_deadline() - now_ns();
        if (diff <= 0) return 0;
        std::int64_t ms = (diff + 999'999) / 1'000'000; // round up: never wake early and spin
        return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
    }

    void poll(int timeout_ms) { reactor_.poll(timeout_ms, *this); }
    friend struct detail::dispatch;
    void arm_poll(detail::io_state& s, bool for_write) { reactor_.arm_poll(s, for_write); }

    /// turn() under virtual time or in debug mode. Out of line, so that turn() stays as it
    /// was for a loop that uses neither: one predictable branch more per turn.
    [[gnu::noinline]] void special_turn() {
        if (virtual_time_) {
            virtual_wait();
        } else {
            drain_remote();
            poll(ready_.empty() ? poll_timeout() : 0);
        }
        fire_timers();
        if (debug_)
            run_ready_batch_timed();
        else
            run_ready_batch();
    }

    /// Runs the ready batch as run_ready_batch() does, timing each step.
    void run_ready_batch_timed() {
        auto& d = detail::debug();
        for (std::size_t n = ready_.size(); n > 0; --n) {
            detail::ready_item item = ready_.pop();
            detail::frame_record* rec = is_resumption(item) ? detail::frame_record_of(item.arg) : nullptr;
            detail::code_location from = rec ? rec->suspended_at : detail::code_location{};
            auto t0 = clock::now();
            item.fn(item.arg);
            auto took = clock::now() - t0;
            if (took < d.slow_step) continue;
            if (rec && !detail::frame_record_of(item.arg)) rec = nullptr; // it finished and went
            if (rec && rec->slow_reported) continue;
            if (rec) rec->slow_reported = true;
            detail::report_slow_step(rec, from, std::chrono::duration_cast<std::chrono::milliseconds>(took));
        }
    }

    /// Under virtual time: poll without blocking, then jump the clock or wait for real.
    void virtual_wait() {
        drain_remote();
        poll(0); // loopback bytes written by this loop's tasks are already there
        drain_remote();
        if (ready_.empty()) {
            if (external_work_ == 0 && !timers_.empty()) {
                virtual_now_ns_ = std::max(virtual_now_ns_, timers_.next_deadline()); // nothing can come first
            } else { // pool work out, or no timer at all: wait for real, and let time run
                std::int64_t t0 = to_ns(clock::now());
                poll(poll_timeout());
                virtual_now_ns_ += to_ns(clock::now()) - t0;
                drain_remote();
            }
        }
    }

    /// At most a batch per turn: a million timers due at once must not make the ready
    /// queue a million entries long; the rest fire on the next (non-blocking) turns.
    void fire_timers() {
        if (timers_.empty()) return;
        std::int64_t now = now_ns();
        for (int budget = 1024; budget > 0 && !timers_.empty() && timers_.next_deadline() <= now; --budget) {
            detail::timer_node* n = timers_.pop();
            n->fire(n);
        }
    }

    /// True when something was posted meanwhile. Only when the jobs out leave the loop a
    /// CPU of its own: with a job running on every CPU, polling would slow a worker down.
    /// A poll that comes back empty disarms polling until the next post arrives (the jobs
    /// out are slow ones, and a loop woken for I/O meanwhile must not burn the budget again
    /// on every turn), and backs off for a growing number of posts after that. Out of
    /// line: turn() stays as small as it was for loops that never use the pool.
    [[gnu::noinline]] bool spin_for_remote() noexcept {
        if (!spin_armed_ || posts_expected_ >= detail::usable_cpus()) return false;
        spin_armed_ = false;
        if (!spin_backoff_.allow()) return false;
        spinning_.store(true, std::memory_order_seq_cst);
        bool got = detail::spin_until([this] { return remote_.load(std::memory_order_relaxed) != nullptr; },
                                      detail::spin_budget_ns);
        spinning_.store(false, std::memory_order_seq_cst);
        // A post that saw spinning_ set did not wake the reactor; ordered after the store
        // above, this load sees its item, so the loop never blocks with one pending.
        got = got || remote_.load(std::memory_order_seq_cst) != nullptr;
        spin_backoff_.record(got);
        spin_armed_ = got;
        return got;
    }

    void drain_remote() {
        if (remote_.load(std::memory_order_relaxed) == nullptr) return;
        spin_armed_ = true;
        detail::remote_item* list = remote_.exchange(nullptr, std::memory_order_acquire);
        detail::remote_item* fifo = nullptr; // the stack holds newest first
        while (list) {
            detail::remote_item* next = list->next;
            list->next = fifo;
            fifo = list;
            list = next;
        }
        while (fifo) {
            detail::remote_item* next = fifo->next;
            fifo->fn(fifo);
            fifo = next;
        }
    }

public:
    /// What report() does without a handler: one line on stderr, and the task's async stack.
    static void default_report(std::exception_ptr e) noexcept { detail::print_unhandled(e); }

private:
    detail::reactor reactor_;
    detail::timer_heap timers_;
    std::atomic<detail::remote_item*> remote_{nullptr};
    std::atomic<bool> spinning_{false}; // the loop polls remote_ instead of sleeping
    std::atomic<int> posting_{0};       // threads inside post_threadsafe
    std::int64_t virtual_now_ns_ = 0;
    bool virtual_time_ = false;
    bool debug_ = false;
    bool special_ = false; // virtual_time_ || debug_: turn() takes special_turn()
    long external_work_ = 0; // pool jobs out
    detail::io_waits io_waits_{*this};
    long posts_expected_ = 0; // add_external_work not yet removed
    bool spin_armed_ = true; // a post arrived since the last poll that found nothing
    detail::spin_backoff spin_backoff_;
    detail::intrusive_list<detail::root_base> roots_;
    detail::loop_service* services_ = nullptr; // owned; newest first
    exception_handler handler_;
    std::uint64_t id_ = 0;
    long thread_ = 0;
    bool shut_down_ = false;
};

inline event_loop& get_running_loop() { return event_loop::current(); }

/// The running loop's clock (asyncio's loop.time()): steady_clock, or the loop's virtual
/// clock under run_options{.clock = corio::virtual_time}. Outside a loop, steady_clock.
inline std::chrono::steady_clock::time_point now() noexcept {
    if (event_loop* l = detail::current_loop_ptr) return l->time();
    return std::chrono::steady_clock::now();
}

} // namespace corio
