#pragma once
// The worker pool and to_thread (asyncio.to_thread): blocking work (file I/O, name
// resolution, CPU-heavy calls) runs on a few threads owned by the loop, and its result
// comes back to the loop thread through post_threadsafe.
//
//   std::string s = co_await corio::to_thread(read_config, path);
//
// Cancellation: a job still queued is dropped; a job already running finishes on its
// worker and its result is thrown away; either way the awaiting task sees cancelled_error
// at once. The job lives in the awaiter (no allocation per job); a worker moves the
// callable and its arguments out of it before running them, so once cancelled, the
// awaiter's frame can be resumed and destroyed while the worker is still busy.
//
// Loop shutdown joins the workers after they have run what is queued, so a job that
// never returns keeps run() from returning (asyncio.run waits for its executor too).
//
// GCC 12 caveat: a capturing lambda written inside the co_await expression, as in
// `co_await to_thread([s] {...})` with `s` a std::string or shared_ptr, is destroyed twice
// by the compiler (a GCC coroutine bug, not ours). Pass the values as arguments instead,
// `co_await to_thread(fn, s)`, or name the lambda first: `auto job = [s] {...};
// co_await to_thread(std::move(job));`. Capturing by reference is unaffected.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "corio/detail/intrusive_list.hpp"
#include "corio/detail/invoke.hpp"
#include "corio/detail/operation.hpp"
#include "corio/platform/thread.hpp"
#include "corio/platform/spin.hpp"
#include "corio/errors.hpp"
#include "corio/loop.hpp"
#include "corio/outcome.hpp"

namespace corio {

class thread_pool;

namespace detail {

/// Per-thread bookkeeping, guarded by the pool lock (but `handed`). Each worker sleeps on
/// its own condition variable so the pool can wake the one that went idle last: it is
/// likely still warm (on a VM, its vCPU may still be polling instead of halted), where a
/// FIFO wake-up would pick the coldest and cost several times the round trip.
struct pool_worker {
    std::condition_variable cv;
    std::atomic<bool> handed{false}; // set for the spinning worker: a job (or shutdown) came
    bool woken = false;              // taken off the idle stack by submit
    bool abandoned = false;          // the running job's owner was cancelled: drop the result
};

/// One unit of work. Queued intrusively; `execute` is called by a worker with the pool
/// lock held and must take what it needs out of the job before releasing it.
struct pool_job : list_hook {
    enum class state : unsigned char { idle, queued, running, completing };
    using execute_fn = void (*)(pool_job*, thread_pool&, pool_worker&,
                                std::unique_lock<std::mutex>&) noexcept;

    execute_fn execute = nullptr;
    pool_worker* worker = nullptr; // who runs it (state running)
    state st = state::idle;        // guarded by the pool lock
};

inline std::atomic<std::size_t> default_worker_threads{0}; // 0: min(4, hardware threads)

inline std::size_t auto_worker_threads() noexcept {
    std::size_t n = default_worker_threads.load(std::memory_order_relaxed);
    if (n) return n;
    std::size_t hw = std::thread::hardware_concurrency();
    return std::clamp<std::size_t>(hw, 1, 4);
}

} // namespace detail

/// Sets how many workers a loop's pool starts with (0: min(4, hardware threads)). Applies
/// to pools that have not started yet, which includes the running loop's until its first
/// to_thread.
inline void set_worker_threads(std::size_t n) noexcept {
    detail::default_worker_threads.store(n, std::memory_order_relaxed);
}

/// The pool as a loop service: `event_loop::current().service<thread_pool>()`. Workers
/// start on first use and are joined by the loop's shutdown, after running what is queued.
class thread_pool final : public detail::loop_service {
public:
    explicit thread_pool(event_loop&) {}
    ~thread_pool() override { shutdown(); }
    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;

    /// Before first use only (throws std::logic_error afterwards); 0 restores the default.
    void set_thread_count(std::size_t n) {
        std::lock_guard lk(mu_);
        if (started_) throw std::logic_error("corio: the worker pool has already started");
        requested_ = n;
    }
    /// The workers running, or that will start on first use.
    std::size_t thread_count() const {
        std::lock_guard lk(mu_);
        if (started_) return threads_.size();
        return requested_ ? requested_ : detail::auto_worker_threads();
    }
    bool started() const {
        std::lock_guard lk(mu_);
        return started_;
    }
    /// How many jobs have been queued since the loop began (to_thread and background
    /// work): tells whether something ran on the pool at all.
    std::size_t jobs_submitted() const {
        std::lock_guard lk(mu_);
        return submitted_;
    }

    /// Queues a job. Returns false once the pool has shut down: the caller runs it inline.
    bool submit(detail::pool_job& j) {
        std::unique_lock lk(mu_);
        if (stopping_) return false;
        if (!started_) start(lk);
        j.st = detail::pool_job::state::queued;
        queue_.push_back(j);
        ++submitted_;
        // Busy workers look at the queue before sleeping. A spinning worker takes the job
        // without a futex wake; it is told after the unlock so that it finds the lock free.
        detail::pool_worker* spinner = std::exchange(spinner_, nullptr);
        detail::pool_worker* wake = nullptr;
        if (!spinner && !idle_.empty()) {
            wake = idle_.back();
            idle_.pop_back();
            wake->woken = true;
        }
        lk.unlock();
        if (spinner) spinner->handed.store(true, std::memory_order_release);
        if (wake) wake->cv.notify_one();
        return true;
    }

    /// Loop thread. True when no worker will touch the job again (it was queued and is now
    /// dropped, or it is running and its result will be discarded). False when the worker
    /// is already handing the result back: its completion will still be posted.
    bool cancel(detail::pool_job& j) noexcept {
        std::lock_guard lk(mu_);
        switch (j.st) {
        case detail::pool_job::state::queued:
            detail::intrusive_list<detail::pool_job>::erase(j);
            break;
        case detail::pool_job::state::running:
            j.worker->abandoned = true;
            break;
        case detail::pool_job::state::completing:
            return false;
        case detail::pool_job::state::idle:
            break;
        }
        j.st = detail::pool_job::state::idle;
        return true;
    }

    /// Runs `f` on a worker with nobody waiting for it (closing a file from a destructor).
    /// Once the pool has shut down, runs it inline.
    template <class F>
    void post_detached(F f) {
        struct detached final : detail::pool_job {
            F fn;
            explicit detached(F&& g) : fn(std::move(g)) {}
            void run(thread_pool&, detail::pool_worker&, std::unique_lock<std::mutex>& lk) noexcept {
                lk.unlock();
                std::unique_ptr<detached> self(this);
                try {
                    fn();
                } catch (...) {
                }
            }
        };
        auto job = std::make_unique<detached>(std::move(f));
        job->execute = detail::thunk<detail::pool_job, &detached::run>;
        if (submit(*job)) {
            job.release();
            return;
        }
        try {
            job->fn();
        } catch (...) {
        }
    }

    /// Called by a job's execute once its work is done, lock not held. True when the
    /// job's owner still waits: the caller then owns the job until it posts the completion.
    bool claim_completion(detail::pool_job& j, detail::pool_worker& w) noexcept {
        std::lock_guard lk(mu_);
        if (w.abandoned) return false;
        j.st = detail::pool_job::state::completing;
        return true;
    }

    void shutdown() noexcept override {
        std::vector<std::thread> threads;
        {
            std::lock_guard lk(mu_);
            if (stopping_) return;
            stopping_ = true;
            threads.swap(threads_);
            if (spinner_) std::exchange(spinner_, nullptr)->handed.store(true, std::memory_order_release);
        }
        for (std::size_t i = 0; i < worker_count_; ++i) workers_[i].cv.notify_all();
        for (auto& t : threads) t.join(); // queued jobs run first
    }

private:
    void start(std::unique_lock<std::mutex>& lk) {
        std::size_t n = requested_ ? requested_ : detail::auto_worker_threads();
        workers_ = std::make_unique<detail::pool_worker[]>(n);
        worker_count_ = n;
        idle_.reserve(n); // so a worker going idle never allocates
        started_ = true;
        threads_.reserve(n);
        detail::async_signals_blocked inherited; // signals are for the loop thread's watcher
        for (std::size_t i = 0; i < n; ++i) {
            try {
                threads_.emplace_back([this, w = &workers_[i]] { work(*w); });
            } catch (...) {
                if (threads_.empty()) {
                    started_ = false;
                    lk.unlock();
                    throw;
                }
                break; // run with fewer workers rather than fail
            }
        }
    }

    void work(detail::pool_worker& w) noexcept {
        std::unique_lock lk(mu_);
        bool may_spin = false; // right after a job: a caller awaiting jobs in a row posts the
                               // next one a few microseconds after the result comes back
        for (;;) {
            while (queue_.empty() && !stopping_) {
                // Only while a CPU is left for it besides the loop's and the busy workers'.
                if (std::exchange(may_spin, false) && !spinner_ &&
                    static_cast<long>(running_) + 2 <= detail::usable_cpus() && spin_backoff_.allow()) {
                    spin(w, lk);
                    continue;
                }
                w.woken = false;
                idle_.push_back(&w);
                w.cv.wait(lk, [&] { return w.woken || stopping_; });
            }
            if (queue_.empty()) return;
            detail::pool_job& j = queue_.pop_front();
            j.st = detail::pool_job::state::running;
            j.worker = &w;
            w.abandoned = false;
            ++running_;
            j.execute(&j, *this, w, lk); // unlocks; may free j
            lk.lock();
            --running_;
            may_spin = true;
        }
    }

    /// Lock held on entry and exit. One idle worker at a time polls for the next job
    /// (spinner_): submit hands it over with a store instead of a futex wake, which on an
    /// otherwise idle VM would cost a cold vCPU wake-up. Submit and shutdown take the
    /// spinner under the lock, and the spinner looks at spinner_ under the lock when it
    /// stops, so a job queued as the budget runs out is either handed over or found there.
    void spin(detail::pool_worker& w, std::unique_lock<std::mutex>& lk) noexcept {
        spinner_ = &w;
        // A late store from a submit that took this worker while its previous spin had
        // already timed out can land after this reset; it only cuts this spin short.
        w.handed.store(false, std::memory_order_relaxed);
        lk.unlock();
        detail::spin_until([&w] { return w.handed.load(std::memory_order_acquire); }, detail::spin_budget_ns);
        lk.lock();
        bool handed = spinner_ != &w;
        if (!handed) spinner_ = nullptr; // nothing came: sleep as usual
        spin_backoff_.record(handed);
    }

    mutable std::mutex mu_;
    detail::intrusive_list<detail::pool_job> queue_;
    std::vector<std::thread> threads_;
    std::unique_ptr<detail::pool_worker[]> workers_;
    std::size_t requested_ = 0;
    std::vector<detail::pool_worker*> idle_; // most recently idle last
    detail::pool_worker* spinner_ = nullptr;  // polling for the next job, not in idle_
    std::size_t running_ = 0;                 // workers inside a job's execute
    detail::spin_backoff spin_backoff_;
    std::size_t worker_count_ = 0;
    std::size_t submitted_ = 0;
    bool started_ = false;
    bool stopping_ = false;
};

namespace detail {

template <class F, class... Args>
using to_thread_result_t = std::invoke_result_t<F&&, Args&&...>;

template <class F, class... Args>
class [[nodiscard]] to_thread_awaiter : cancellable, pool_job, remote_item {
    using result_type = to_thread_result_t<F, Args...>;
    using work_type = std::tuple<F, Args...>;

public:
    template <class G, class... As>
    explicit to_thread_awaiter(G&& g, As&&... as)
        : work_(std::forward<G>(g), std::forward<As>(as)...) {}
    /// Only before it is awaited (gather and wait_for move their awaitables into tasks).
    to_thread_awaiter(to_thread_awaiter&& o) noexcept(std::is_nothrow_move_constructible_v<work_type>)
        : work_(std::move(o.work_)) {}
    to_thread_awaiter& operator=(to_thread_awaiter&&) = delete;

    /// A frame destroyed while its job is in flight (loop shutdown) takes the job back.
    /// Never while completing: external work keeps the loop turning until on_done ran.
    ~to_thread_awaiter() {
        if (in_flight_ && pool_->cancel(*this)) loop_->remove_external_work();
    }

    bool await_ready() const noexcept { return false; }

    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
        handle_ = h;
        loop_ = &event_loop::current();
        if (!arm(slot_of(h), thunk<operation, &to_thread_awaiter::on_cancel>)) return false;
        pool_ = &loop_->service<thread_pool>();
        execute = thunk<pool_job, &to_thread_awaiter::run_on_worker>;
        remote_item::fn = thunk<remote_item, &to_thread_awaiter::on_done>;
        bool queued = false;
        try {
            queued = pool_->submit(*this);
        } catch (...) {
            disarm();
            throw;
        }
        if (!queued) { // the pool has shut down (a frame ending during loop teardown)
            disarm();
            run_inline();
            return false;
        }
        in_flight_ = true;
        loop_->add_external_work();
        return true;
    }

    /// Cancelled after the function returned but before this resumed: the function has
    /// run and its result is dropped, as asyncio drops it.
    result_type await_resume() {
        throw_if_cancelled_on_resume();
        return std::move(result_).value();
    }

private:
    friend struct dispatch;

    static outcome<result_type> invoke(work_type& w) noexcept {
        outcome<result_type> out;
        try {
            if constexpr (std::is_void_v<result_type>) {
                std::apply([](auto&& fn, auto&&... as) { detail::invoke(std::move(fn), std::move(as)...); }, w);
                out.set_value();
            } else {
                out.set_value(std::apply(
                    [](auto&& fn, auto&&... as) -> result_type {
                        return detail::invoke(std::move(fn), std::move(as)...);
                    },
                    w));
            }
        } catch (...) {
            out.set_exception(std::current_exception());
        }
        return out;
    }

    /// Worker thread, pool lock held on entry. The callable is moved out before the lock
    /// is released (from then on the frame may vanish) and destroyed before the result is
    /// handed back, so its destructor has run by the time the caller resumes.
    static outcome<result_type> take_and_invoke(to_thread_awaiter* self,
                                                std::unique_lock<std::mutex>& lk) noexcept {
        try {
            work_type work(std::move(self->work_));
            lk.unlock();
            return invoke(work);
        } catch (...) { // moving the callable (or the result) threw
            if (lk.owns_lock()) lk.unlock();
            outcome<result_type> out;
            out.set_exception(std::current_exception());
            return out;
        }
    }

    void run_on_worker(thread_pool& pool, pool_worker& w, std::unique_lock<std::mutex>& lk) noexcept {
        outcome<result_type> out = take_and_invoke(this, lk);
        if (!pool.claim_completion(*this, w)) return; // cancelled: nobody wants it
        try {
            result_ = std::move(out);
        } catch (...) {
            result_.set_exception(std::current_exception());
        }
        loop_->post_threadsafe(this); // the frame is the loop's again
    }

    void run_inline() {
        result_ = invoke(work_);
    }

    /// Loop thread, from the remote queue.
    void on_done() {
        in_flight_ = false;
        disarm();
        loop_->remove_external_work();
        loop_->post(handle_);
    }

    void on_cancel() noexcept {
        cancelled = true;
        if (!pool_->cancel(*this)) return; // result already on its way: on_done resumes
        in_flight_ = false;
        loop_->remove_external_work();
        loop_->post(handle_);
    }

    work_type work_;
    outcome<result_type> result_;
    std::coroutine_handle<> handle_;
    event_loop* loop_ = nullptr;
    thread_pool* pool_ = nullptr;
    bool in_flight_ = false;
};

} // namespace detail

/// Runs fn(args...) on the running loop's worker pool and resumes the caller on the loop
/// thread with its value, or rethrows its exception. fn and args are decay-copied (moved)
/// into the awaiter, as std::thread does; pass std::ref to share instead.
template <class F, class... Args>
    requires std::is_invocable_v<std::decay_t<F>&&, std::decay_t<Args>&&...>
auto to_thread(F&& fn, Args&&... args) {
    return detail::to_thread_awaiter<std::decay_t<F>, std::decay_t<Args>...>(
        std::forward<F>(fn), std::forward<Args>(args)...);
}

} // namespace corio
