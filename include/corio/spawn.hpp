#pragma once
// spawn (asyncio's create_task): runs a task on the loop concurrently and returns a
// handle to await, cancel or query it. A failed task nobody awaits is reported through
// the loop's exception handler, never lost silently. Only tasks of the same loop may wait
// on a handle: a wait from another loop's thread throws std::logic_error.
#include <coroutine>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "corio/detail/awaitable_traits.hpp"
#include "corio/detail/intrusive_list.hpp"
#include "corio/errors.hpp"
#include "corio/loop.hpp"
#include "corio/task.hpp"

namespace corio {

template <class T>
class task_handle;

namespace detail {

struct join_waiter : list_hook, cancellable {
    std::coroutine_handle<> handle;
    bool cancel_requested = false;
};

inline bool is_cancellation(const std::exception_ptr& e) noexcept {
    if (!e) return false;
    try {
        std::rethrow_exception(e);
    } catch (const cancelled_error&) {
        return true;
    } catch (...) {
        return false;
    }
}

struct group_member;

/// Something that owns spawned tasks as a set (task_group, as_completed) and must hear
/// when each ends. member_finished runs inside the task's final step, after its outcome is
/// set and its frame freed; it must not resume anything inline. It returns true when it
/// took charge of the task's exception, which then counts as retrieved.
struct member_group {
    bool (*member_finished)(member_group*, group_member&, const std::exception_ptr&) noexcept = nullptr;
};

/// A spawned task's place in a member_group: linked in the group's list of running tasks
/// while it runs. `cancel` is the typed task_handle::cancel, so a group holding only
/// these can cancel tasks of any result type.
struct group_member : list_hook {
    member_group* group = nullptr;
    void (*cancel)(group_member&) noexcept = nullptr;

    /// Leaves the group without telling it (the group is going away, or the task is).
    void leave_group() noexcept {
        group = nullptr;
        if (linked()) intrusive_list<group_member>::erase(*this);
    }
};

template <class T>
struct spawned_state final : root_base, result_completion<T>, group_member {
    using value_type = T;
    task<T> work;
    event_loop* loop;
    intrusive_list<join_waiter> waiters;
    unsigned handles = 0;
    unsigned cancel_requests = 0; // asyncio's cancelling()
    bool done = false;
    bool abandoned = false; // destroyed unfinished at loop shutdown
    bool retrieved = false;

    spawned_state(task<T>&& t, event_loop& l) : work(std::move(t)), loop(&l) {
        this->fn = thunk<completion, &spawned_state::on_finished>;
        this->cancel = &cancel_member;
        auto& p = work.handle().promise();
        p.slot = &slot;
        p.set_completion(this);
#if CORIO_DEBUG
        p.record.root = true;
#endif
    }

    /// The task's first step, run from the ready queue. A task cancelled before it started
    /// never runs its body (asyncio): it ends cancelled at once.
    void start() {
        if (!slot.take_pending()) {
            work.handle().resume();
            return;
        }
        this->out.set_exception(std::make_exception_ptr(cancelled_error()));
#if CORIO_DEBUG
        work.handle().promise().record.st = frame_record::state::finished; // not "never run"
#endif
        (void)on_finished();
    }

    outcome<T>& result() noexcept { return this->out; }

    void report_if_unobserved() noexcept {
        if (retrieved || abandoned) return;
        std::exception_ptr e = result().exception();
        if (!e || is_cancellation(e)) return;
        // The last handle may go after run() has returned and the loop with it.
        if (current_loop_ptr == loop)
            loop->report(e);
        else
            event_loop::default_report(e);
    }

    void wake_waiters() noexcept {
        while (!waiters.empty()) {
            join_waiter& w = waiters.pop_front();
            w.disarm();
            loop->post(w.handle);
        }
    }

    /// Runs inside the task's final_suspend (or before its first step): the frame is
    /// suspended, so it is destroyed here, and with it the task's locals and parameters,
    /// such as a connection's stream, even while handles keep the result.
    std::coroutine_handle<> on_finished() noexcept {
        // Cancelled while running, then returned without waiting again: asyncio ends such
        // a task cancelled, so the request that cancel() reported is not dropped.
        if (slot.take_pending() && !this->out.has_exception())
            this->out.set_exception(std::make_exception_ptr(cancelled_error()));
        done = true;
        work.handle().destroy();
        (void)work.release();
        event_loop::release(*this);
        if (member_group* g = group) {
            leave_group();
            if (g->member_finished(g, *this, this->out.exception())) retrieved = true;
        }
        wake_waiters();
        if (handles == 0) {
            report_if_unobserved();
            delete this;
        }
        return std::noop_coroutine();
    }

    /// asyncio's Task.cancel, for a group that holds no task_handle.
    static void cancel_member(group_member& m) noexcept {
        auto& self = static_cast<spawned_state&>(m);
        if (self.done) return;
        ++self.cancel_requests;
        self.slot.request();
    }

    void abandon() noexcept override {
        leave_group(); // the group's owner is being destroyed at shutdown too
        done = true;
        abandoned = true;
        wake_waiters();
        if (handles == 0)
            delete this;
        else
            work = task<T>(); // destroys the suspended frame; the handle sees "not finished"
    }

    void release_handle() noexcept {
        if (--handles != 0 || !done) return;
        report_if_unobserved();
        delete this;
    }
};

} // namespace detail

template <class T>
class [[nodiscard]] task_handle {
public:
    task_handle() noexcept = default;
    explicit task_handle(detail::spawned_state<T>* s) noexcept : s_(s) { ++s_->handles; }
    task_handle(const task_handle& o) noexcept : s_(o.s_) {
        if (s_) ++s_->handles;
    }
    task_handle(task_handle&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    task_handle& operator=(task_handle o) noexcept {
        std::swap(s_, o.s_);
        return *this;
    }
    ~task_handle() {
        if (s_) s_->release_handle();
    }

    bool valid() const noexcept { return s_ != nullptr; }
    bool done() const noexcept { return s_ && s_->done; }

    /// Requests cancellation (asyncio's Task.cancel). A task that has not started never
    /// runs; a waiting task's co_await throws cancelled_error, and so does one whose wait
    /// has completed but which has not resumed yet (the wait's hand-off is undone); a task
    /// that is running gets it at its next suspension, or ends cancelled if it returns
    /// first. Several requests before the task resumes deliver one cancelled_error.
    /// Returns false, and does nothing, when the task has already finished.
    bool cancel() noexcept {
        if (!s_ || s_->done) return false;
        ++s_->cancel_requests;
        s_->slot.request();
        return true;
    }

    /// How many cancellation requests are outstanding (asyncio's Task.cancelling()).
    unsigned cancelling() const noexcept { return s_ ? s_->cancel_requests : 0; }

    /// Withdraws one request from the count (asyncio 3.11's Task.uncancel()): code that
    /// caught a cancellation it caused itself, such as a timeout scope, calls it so that
    /// cancelling() tells whether someone else also asked. Returns the new count.
    unsigned uncancel() noexcept {
        if (s_ && s_->cancel_requests > 0) --s_->cancel_requests;
        return cancelling();
    }

    bool cancelled() const noexcept {
        return done() && (s_->abandoned || detail::is_cancellation(s_->result().exception()));
    }

    /// The finished task's value; rethrows its exception. Throws std::logic_error if it
    /// has not finished.
    T result() { return take(); }

    std::exception_ptr exception() {
        check_done();
        s_->retrieved = true;
        return s_->result().exception();
    }

    /// The frame's done flag, for run().
    const bool& done_flag() const noexcept { return s_->done; }

    /// Take: co_await on the handle, which gives the task's result and passes the
    /// awaiting task's cancellation on to it (awaiting a Task in asyncio). Otherwise
    /// wait(), which only waits for the end, like asyncio.wait: its own cancellation
    /// leaves the task alone.
    template <bool Take>
    class [[nodiscard]] basic_awaiter : detail::join_waiter {
    public:
        explicit basic_awaiter(task_handle& h) noexcept : h_(h) {}
        ~basic_awaiter() {
            if (linked()) detail::intrusive_list<detail::join_waiter>::erase(*this);
        }
        bool await_ready() const noexcept { return h_.done(); }

        /// The task's loop wakes its waiters on its own thread: a waiter from another loop
        /// would be resumed there, so it is refused.
        template <class P>
        bool await_suspend(std::coroutine_handle<P> h) {
            if (h_.s_->loop != detail::current_loop_ptr) [[unlikely]]
                detail::throw_foreign_loop("task_handle", -1, h_.s_->loop, detail::current_loop_ptr);
            handle = h;
            if (!arm(detail::slot_of(h), detail::thunk<detail::operation, &basic_awaiter::on_cancel>)) return false;
            h_.s_->waiters.push_back(*this);
            return true;
        }

        /// Cancelled after the task finished but before this resumed: the result stays in
        /// the task for anyone else who asks.
        std::conditional_t<Take, T, void> await_resume() {
            bool late = cancelled_after_wake();
            if (cancelled || cancel_requested || late) throw cancelled_error();
            if constexpr (Take) return h_.take();
        }

    private:
        friend struct detail::dispatch;
        void on_cancel() noexcept {
            if constexpr (Take) { // cancel the awaited task too, and wait for it to unwind
                cancel_requested = true;
                h_.cancel();
            } else {
                detail::intrusive_list<detail::join_waiter>::erase(*this);
                cancelled = true;
                h_.s_->loop->post(handle);
            }
        }
        task_handle& h_;
    };
    using awaiter = basic_awaiter<true>;

    /// Waits until the task has finished, without taking its result or rethrowing its
    /// exception. Throws cancelled_error only when the waiting task is cancelled, which
    /// leaves this task running.
    basic_awaiter<false> wait() noexcept { return basic_awaiter<false>(*this); }

    awaiter operator co_await() & noexcept { return awaiter(*this); }
    awaiter operator co_await() && noexcept { return awaiter(*this); }

private:
    void check_done() const {
        if (!s_) throw std::logic_error("corio: empty task_handle");
        if (!s_->done) throw std::logic_error("corio: task is not done yet");
        if (s_->abandoned) throw cancelled_error(); // destroyed unfinished at loop shutdown
    }
    T take() {
        check_done();
        s_->retrieved = true;
        if constexpr (std::is_void_v<T> || std::is_reference_v<T> || !std::is_copy_constructible_v<T>)
            return std::move(s_->result()).value();
        else
            return s_->result().value(); // copy: several awaiters may ask
    }

    detail::spawned_state<T>* s_ = nullptr;
};

/// What spawn() may be told besides the work.
struct spawn_options {
    /// The task's name in all_tasks() and dump_tasks() (debug builds; ignored otherwise).
    /// Empty: the file and line where spawn was called.
    std::string_view name{};
};

namespace detail {

/// spawn's body, for the groups that also link the state into their list of members.
template <class Awaitable>
auto new_spawned(Awaitable&& work) {
    using T = typename task_for_t<Awaitable>::value_type;
    event_loop& loop = event_loop::current();
    auto* s = new spawned_state<T>(into_task(std::forward<Awaitable>(work)), loop);
    loop.adopt(*s);
    loop.post(thunk<spawned_state<T>, &spawned_state<T>::start, void>, s);
    return s;
}

#if CORIO_DEBUG
template <class T>
void name_spawned(spawned_state<T>* s, std::string_view name, code_location at) noexcept {
    try {
        s->work.handle().promise().record.name = name.empty() ? at.short_form() : std::string(name);
    } catch (...) { // no memory for a name: the task runs unnamed
    }
}
#endif

} // namespace detail

/// Schedules `work` on the running loop (asyncio.create_task). It starts on the next turn.
template <class Awaitable>
auto spawn(Awaitable&& work, spawn_options options = {}
#if CORIO_DEBUG
           , detail::code_location at = detail::code_location::here()
#endif
) {
    auto* s = detail::new_spawned(std::forward<Awaitable>(work));
#if CORIO_DEBUG
    detail::name_spawned(s, options.name, at);
#else
    (void)options;
#endif
    return task_handle<typename std::remove_pointer_t<decltype(s)>::value_type>(s);
}

/// spawn(f, args...): f(args...) runs as the task; f and the args are kept alive with it.
template <class F, class Arg, class... Args>
    requires std::invocable<std::decay_t<F>&, std::decay_t<Arg>&, std::decay_t<Args>&...>
auto spawn(F&& f, Arg&& arg, Args&&... args) {
    return spawn(detail::bind_owned(std::forward<F>(f), std::forward<Arg>(arg), std::forward<Args>(args)...));
}

template <class... A>
auto create_task(A&&... work) {
    return spawn(std::forward<A>(work)...);
}

} // namespace corio
