#pragma once
// as_completed (asyncio.as_completed): results in the order the tasks finish.
#include <cstddef>
#include <iterator>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "corio/detail/awaitable_traits.hpp"
#include "corio/detail/intrusive_list.hpp"
#include "corio/spawn.hpp"
#include "corio/sync.hpp"
#include "corio/task.hpp"

namespace corio {

/// The tasks of one as_completed() call. Each next() gives an awaitable for the result of
/// the next task to finish; they are handed out in finishing order. Destroying it (for
/// instance when the consuming task leaves the loop early, by an exception or a
/// cancellation) cancels the tasks still running; they unwind on the loop on their own,
/// as spawned tasks, and their frames are freed when they end (asyncio leaves them
/// running). co_await close() first to wait for them. Not movable: the tasks report to it.
template <class T>
class [[nodiscard]] as_completed_set : detail::member_group {
public:
    /// Spawns every awaitable of `tasks` (moved out of the range); they start on the next
    /// loop turn. Throws std::logic_error without a running loop.
    template <class Range>
        requires(!std::is_same_v<std::remove_cvref_t<Range>, as_completed_set>)
    explicit as_completed_set(Range&& tasks) {
        member_finished = detail::thunk<detail::member_group, &as_completed_set::on_member_finished>;
        if constexpr (requires { std::size(tasks); }) handles_.reserve(std::size(tasks));
        for (auto&& t : tasks) {
            auto* s = detail::new_spawned(std::move(t));
            s->group = this;
            running_.push_back(*s);
            handles_.emplace_back(s);
        }
    }
    as_completed_set(const as_completed_set&) = delete;
    as_completed_set& operator=(const as_completed_set&) = delete;

    ~as_completed_set() {
        running_.for_each([](detail::group_member& m) {
            m.leave_group();
            m.cancel(m);
        });
    }

    /// An awaitable for the next result in finishing order (its value, or its exception
    /// rethrown), or nullopt once as many have been handed out as there are tasks.
    /// Awaiting it waits for a task to finish; a cancellation while it waits throws
    /// cancelled_error and leaves the finished task for the next await, even if it had
    /// already been handed to this one. An awaitable destroyed or cancelled before it
    /// took a result does not count as handed out.
    std::optional<task<T>> next() {
        if (issued_ == handles_.size()) return std::nullopt;
        return take_next(ticket(issued_));
    }

    /// Cancels the tasks still running and waits until every task has finished, so that
    /// none outlives what it refers to in the caller's frame. Results not handed out stay
    /// available to next(). Throws cancelled_error if the awaiting task is cancelled
    /// meanwhile; the tasks stay cancelled and finish on their own.
    task<void> close() {
        running_.for_each([](detail::group_member& m) { m.cancel(m); });
        for (auto& h : handles_) co_await h.wait();
    }

    /// How many results next() can still hand out.
    std::size_t remaining() const noexcept { return handles_.size() - issued_; }

private:
    // One next() that has not given its result yet; it gives its place back if it goes
    // without one. A parameter, so it also goes with a frame that never ran.
    struct ticket {
        std::size_t* issued;
        explicit ticket(std::size_t& i) noexcept : issued(&i) { ++i; }
        ticket(ticket&& o) noexcept : issued(std::exchange(o.issued, nullptr)) {}
        ticket& operator=(ticket&&) = delete;
        ~ticket() {
            if (issued) --*issued;
        }
    };

    task<T> take_next(ticket t) {
        detail::group_member* m = co_await finished_.get();
        t.issued = nullptr;
        task_handle<T> h(static_cast<detail::spawned_state<T>*>(m));
        co_return h.result();
    }

    friend struct detail::dispatch;
    bool on_member_finished(detail::group_member& m, const std::exception_ptr&) noexcept {
        finished_.put_nowait(&m);
        return false;
    }

    std::vector<task_handle<T>> handles_; // keep every task's result until the end
    detail::intrusive_list<detail::group_member> running_;
    queue<detail::group_member*> finished_;
    std::size_t issued_ = 0;
};

/// Spawns every task of `tasks` (a range of awaitables) and hands out their results in
/// the order they finish (asyncio.as_completed):
///
///     corio::as_completed_set<int> ac(std::move(tasks));   // or: auto ac = as_completed(...)
///     while (auto next = ac.next()) { int v = co_await *next; }
template <class Range>
auto as_completed(Range&& tasks) {
    using A = std::remove_cvref_t<decltype(*std::begin(tasks))>;
    using T = typename detail::task_for_t<A>::value_type;
    return as_completed_set<T>(std::forward<Range>(tasks));
}

} // namespace corio
