#pragma once
// spawn (asyncio's create_task): runs a task on the loop concurrently and returns a
// handle to await, cancel or query it. A failed task nobody awaits is reported through
// the loop's exception handler, never lost silently.
#include <coroutine>
#include <exception>
#include <stdexcept>
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

template <class T>
struct spawned_state final : root_base, result_completion<T> {
    task<T> work;
    event_loop* loop;
    intrusive_list<join_waiter> waiters;
    unsigned handles = 0;
    bool done = false;
    bool retrieved = false;

    spawned_state(task<T>&& t, event_loop& l) : work(std::move(t)), loop(&l) {
        this->fn = &on_finished;
        auto& p = work.handle().promise();
        p.slot = &slot;
        p.set_completion(this);
    }

    outcome<T>& result() noexcept { return this->out; }

    void report_if_unobserved() noexcept {
        if (retrieved || !work.valid() || !work.done()) return;
        std::exception_ptr e = result().exception();
        if (e && !is_cancellation(e)) loop->report(e);
    }

    void wake_waiters() noexcept {
        while (!waiters.empty()) {
            join_waiter& w = waiters.pop_front();
            w.disarm();
            loop->post(w.handle);
        }
    }

    // Runs inside the task's final_suspend: the frame is suspended, so destroying it here
    // (when no handle remains) is allowed.
    static std::coroutine_handle<> on_finished(completion* c) noexcept {
        auto* self = static_cast<spawned_state*>(c);
        self->done = true;
        event_loop::release(*self);
        self->wake_waiters();
        if (self->handles == 0) {
            self->report_if_unobserved();
            delete self;
        }
        return std::noop_coroutine();
    }

    void abandon() noexcept override {
        done = true;
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

    // Requests cancellation: the task's current (or next) co_await throws cancelled_error.
    // Returns false when the task has already finished.
    bool cancel() noexcept {
        if (!s_ || s_->done) return false;
        s_->slot.request();
        return true;
    }

    bool cancelled() const noexcept {
        return done() && s_->work.valid() && detail::is_cancellation(s_->result().exception());
    }

    // The finished task's value; rethrows its exception. Throws std::logic_error if it
    // has not finished.
    T result() { return take(); }

    std::exception_ptr exception() {
        check_done();
        s_->retrieved = true;
        return s_->result().exception();
    }

    // The frame's done flag, for run().
    const bool& done_flag() const noexcept { return s_->done; }

    class awaiter : detail::join_waiter {
    public:
        explicit awaiter(task_handle& h) noexcept : h_(h) {}
        ~awaiter() {
            if (linked()) detail::intrusive_list<detail::join_waiter>::erase(*this);
        }
        bool await_ready() const noexcept { return h_.done(); }

        template <class P>
        bool await_suspend(std::coroutine_handle<P> h) {
            handle = h;
            if (!arm(detail::slot_of(h), &on_cancel)) return false;
            h_.s_->waiters.push_back(*this);
            return true;
        }

        T await_resume() {
            if (cancelled || cancel_requested) throw cancelled_error();
            return h_.take();
        }

    private:
        // Cancelling the awaiting task cancels the awaited one (as asyncio does), then
        // keeps waiting for it to unwind.
        static void on_cancel(detail::operation* op) noexcept {
            auto* self = static_cast<awaiter*>(static_cast<detail::join_waiter*>(op));
            self->cancel_requested = true;
            self->h_.cancel();
        }
        task_handle& h_;
    };

    awaiter operator co_await() & noexcept { return awaiter(*this); }
    awaiter operator co_await() && noexcept { return awaiter(*this); }

private:
    void check_done() const {
        if (!s_) throw std::logic_error("corio: empty task_handle");
        if (!s_->done) throw std::logic_error("corio: task is not done yet");
        if (!s_->work.valid()) throw cancelled_error(); // abandoned at shutdown
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

// Schedules `work` on the running loop (asyncio.create_task). It starts on the next turn.
template <class Awaitable>
auto spawn(Awaitable&& work) {
    using T = typename detail::task_for_t<Awaitable>::value_type;
    event_loop& loop = event_loop::current();
    auto* s = new detail::spawned_state<T>(detail::into_task(std::forward<Awaitable>(work)), loop);
    loop.adopt(*s);
    loop.post(s->work.handle());
    return task_handle<T>(s);
}

// spawn(f, args...): f(args...) runs as the task; f and the args are kept alive with it.
template <class F, class Arg, class... Args>
    requires std::invocable<std::decay_t<F>&, std::decay_t<Arg>&, std::decay_t<Args>&...>
auto spawn(F&& f, Arg&& arg, Args&&... args) {
    return spawn(detail::invoke_owned(std::decay_t<F>(std::forward<F>(f)),
                                      std::decay_t<Arg>(std::forward<Arg>(arg)),
                                      std::decay_t<Args>(std::forward<Args>(args))...));
}

template <class... A>
auto create_task(A&&... work) {
    return spawn(std::forward<A>(work)...);
}

} // namespace corio
