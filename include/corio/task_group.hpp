#pragma once
// task_group (asyncio.TaskGroup): a body and the tasks it spawns run as one unit. The
// group ends when the body and every child have finished; the first failure cancels the
// body and the other children; every failure except cancellation is then thrown together
// as an exception_group.
//
// The shape is `co_await task_group::run(body)`, not an object the caller keeps and
// spawns into: C++ has no asynchronous destructor, so a group that could go out of scope
// would have to either block, leak its children or destroy them mid-flight. Here the
// group only exists inside the awaiter, for exactly as long as the awaiting task waits
// for it; that wait ends only once the last child has finished, so no child outlives the
// group on any path, exceptions and cancellation included.
#include <coroutine>
#include <cstddef>
#include <exception>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "corio/detail/awaitable_traits.hpp"
#include "corio/detail/child.hpp"
#include "corio/detail/intrusive_list.hpp"
#include "corio/errors.hpp"
#include "corio/loop.hpp"
#include "corio/spawn.hpp"
#include "corio/task.hpp"

namespace corio {

namespace detail {
template <class F>
class task_group_run;
}

/// The group a task_group::run body receives. Children are spawned tasks (they start on
/// the next loop turn, as with spawn) that the group waits for and cancels together.
class task_group : detail::child_group, detail::member_group {
public:
    task_group(const task_group&) = delete;
    task_group& operator=(const task_group&) = delete;

    /// Runs `body(group)` (a callable returning an awaitable, usually a task) and waits
    /// until it and every task it spawned into the group have finished; gives the body's
    /// value. If the body or a child fails, the body and the other children are cancelled
    /// and awaited, then every failure (children's in the order they finished, the body's
    /// last) is thrown as one exception_group; cancelled children are not failures.
    /// Cancelling the awaiting task cancels the body and every child, waits for them, then
    /// throws cancelled_error (unless some of them failed meanwhile: the exception_group
    /// wins, as in asyncio). The callable is kept alive inside the awaiter until the end.
    template <class F>
    static detail::task_group_run<std::decay_t<F>> run(F&& body) {
        return detail::task_group_run<std::decay_t<F>>(std::forward<F>(body));
    }

    /// Spawns `work` as a child of the group; it starts on the next loop turn. The handle
    /// can await, cancel or read the child like any task_handle (a child cancelled through
    /// it is not a failure). Throws std::logic_error once the group is shutting down
    /// (after a failure or a cancellation, as asyncio) or has finished.
    template <class Awaitable>
    auto spawn(Awaitable&& work) {
        check_open();
        auto* s = detail::new_spawned(std::forward<Awaitable>(work));
        s->group = this;
        members_.push_back(*s);
        ++running_;
        ++remaining;
        return task_handle<typename std::remove_pointer_t<decltype(s)>::value_type>(s);
    }

    /// spawn(f, args...): f(args...) runs as the child; f and the args live as long as it.
    template <class F, class Arg, class... Args>
        requires std::invocable<std::decay_t<F>&, std::decay_t<Arg>&, std::decay_t<Args>&...>
    auto spawn(F&& f, Arg&& arg, Args&&... args) {
        return spawn(detail::bind_owned(std::forward<F>(f), std::forward<Arg>(arg), std::forward<Args>(args)...));
    }

    /// Children that have not finished yet.
    std::size_t running() const noexcept { return running_; }

    /// True once a failure or a cancellation has made the group cancel its members.
    bool aborting() const noexcept { return aborting_; }

private:
    template <class F>
    friend class detail::task_group_run;

    friend struct detail::dispatch;

    task_group() noexcept {
        member_finished = detail::thunk<detail::member_group, &task_group::on_member_finished>;
        cancel_children = detail::thunk<detail::child_group, &task_group::on_cancel_all>;
    }
    // Only reached with children still running when the loop destroys the awaiting frame
    // at shutdown; the children are roots of the loop, which deals with them.
    ~task_group() {
        members_.for_each([](detail::group_member& m) { m.leave_group(); });
    }

    void check_open() const {
        if (aborting_) throw std::logic_error("corio: task_group is shutting down");
        if (!body_running_ && running_ == 0) throw std::logic_error("corio: task_group is finished");
    }

    void abort() noexcept {
        aborting_ = true;
        if (body_running_) body_slot_->request();
        members_.for_each([](detail::group_member& m) { m.cancel(m); });
    }

    // The body ended, with `e` or a value.
    void body_ended(std::exception_ptr e) noexcept {
        body_running_ = false;
        if (!e) return;
        if (!detail::is_cancellation(e))
            body_error_ = std::move(e);
        else if (!body_cancelled_by_group_ && !parent_cancelled)
            propagate_cancel_ = true; // the body's own cancelled_error goes on (asyncio)
        if (!aborting_) abort();
    }

    bool on_member_finished(detail::group_member&, const std::exception_ptr& e) noexcept {
        --running_;
        bool taken = false;
        if (e && !detail::is_cancellation(e)) {
            errors_.push_back(e);
            taken = true;
            if (!aborting_) {
                body_cancelled_by_group_ = body_running_;
                abort();
            }
        }
        if (--remaining == 0) {
            disarm();
            loop_->post(parent);
        }
        return taken;
    }

    void on_cancel_all() noexcept {
        if (!aborting_) abort();
    }

    // Errors first, as asyncio: they win over a cancellation of the awaiting task.
    void rethrow_if_failed() {
        bool late = cancelled_after_wake();
        if (!errors_.empty() || body_error_) {
            std::vector<std::exception_ptr> all = std::move(errors_);
            if (body_error_) all.push_back(std::move(body_error_));
            throw exception_group(std::move(all));
        }
        if (cancelled || parent_cancelled || late || propagate_cancel_) throw cancelled_error();
    }

    event_loop* loop_ = nullptr;
    detail::intrusive_list<detail::group_member> members_;
    std::size_t running_ = 0;
    detail::cancel_slot* body_slot_ = nullptr;
    bool body_running_ = false;
    bool aborting_ = false;
    bool body_cancelled_by_group_ = false;
    bool propagate_cancel_ = false;
    std::vector<std::exception_ptr> errors_;
    std::exception_ptr body_error_;
};

namespace detail {

/// The awaiter task_group::run returns. Not movable: the body refers to the group in it.
template <class F>
class [[nodiscard]] task_group_run : task_group {
    using body_task = task_for_t<std::invoke_result_t<F&, task_group&>>;
    using R = typename body_task::value_type;

public:
    /// The body's task is made here, so a callable that throws does so before anything
    /// is armed; it starts when awaited.
    explicit task_group_run(F f) : f_(std::move(f)) {
        child_finished = thunk<child_group, &task_group_run::on_body_finished>;
        body_.emplace(into_task(detail::invoke(f_, static_cast<task_group&>(*this))));
    }
    task_group_run(task_group_run&&) = delete;

    bool await_ready() const noexcept { return false; }

    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
        loop_ = &event_loop::current();
        return begin(h, 1, [this] {
            body_slot_ = &body_->slot;
            body_running_ = true;
            body_->start(this);
        });
    }

    R await_resume() {
        rethrow_if_failed();
        return std::move(body_->result()).value();
    }

private:
    friend struct dispatch;
    void on_body_finished(completion*) noexcept { body_ended(body_->result().exception()); }

    F f_;
    std::optional<child<R>> body_;
};

} // namespace detail

} // namespace corio
