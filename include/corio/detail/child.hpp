#pragma once
// Children run by an awaiter on behalf of the task that awaits it (gather, race,
// wait_for). Each child has its own cancellation slot, so the group can cancel siblings
// one by one, and reports back through a completion record; the group resumes its parent
// once the last child has finished, so no child outlives the awaiter that started it.
#include <coroutine>
#include <cstddef>
#include <utility>

#include "corio/detail/awaitable_traits.hpp"
#include "corio/detail/operation.hpp"
#include "corio/errors.hpp"
#include "corio/task.hpp"

namespace corio::detail {

struct child_group;

// The child's outcome lives here (see result_completion).
template <class T>
struct child : result_completion<T> {
    task<T> work;
    cancel_slot slot;
    child_group* group = nullptr;

    explicit child(task<T>&& t) noexcept : work(std::move(t)) { this->fn = thunk<completion, &child::on_finished>; }
    child(child&&) noexcept = default;

    void start(child_group* g);
    // A finished child has freed its frame (see on_finished).
    bool finished() const noexcept { return !work.valid(); }
    void cancel() noexcept {
        if (!finished()) slot.request();
    }
    outcome<T>& result() noexcept { return this->out; }

    std::coroutine_handle<> on_finished() noexcept;
};

// The awaiter side. `remaining` counts running children plus one held by await_suspend
// itself, so children that finish while still being started cannot resume the parent
// before it has suspended.
struct child_group : cancellable {
    std::coroutine_handle<> parent;
    std::size_t remaining = 0;
    bool parent_cancelled = false;
    // Called as each child finishes, before the count drops.
    void (*child_finished)(child_group*, completion*) noexcept = nullptr;
    // Called when the task awaiting the group is cancelled: cancel the children.
    void (*cancel_children)(child_group*) noexcept = nullptr;
#if CORIO_DEBUG
    frame_record* parent_record = nullptr; // the children's awaiter, in the task tree
#endif

    // Begins the await; `start_all` starts the children. Returns whether to suspend.
    template <class P, class StartAll>
    bool begin(std::coroutine_handle<P> h, std::size_t n, StartAll&& start_all) {
        parent = h;
#if CORIO_DEBUG
        parent_record = record_of(h);
#endif
        if (!arm(slot_of(h), thunk<operation, &child_group::on_parent_cancel>)) return false;
        remaining = n + 1;
        start_all();
        return !finish_one_inline();
    }

    // Also after the children finished, if the parent was cancelled before it resumed:
    // their results are dropped (a value cannot be given back).
    void throw_if_cancelled() {
        bool late = cancelled_after_wake();
        if (cancelled || parent_cancelled || late) throw cancelled_error();
    }

    std::coroutine_handle<> finish_one() noexcept {
        if (--remaining != 0) return std::noop_coroutine();
        disarm();
        return parent;
    }

private:
    friend struct dispatch;
    bool finish_one_inline() noexcept {
        if (--remaining != 0) return false;
        disarm();
        return true;
    }
    void on_parent_cancel() noexcept {
        parent_cancelled = true;
        cancel_children(this);
    }
};

template <class T>
void child<T>::start(child_group* g) {
    group = g;
    auto& p = work.handle().promise();
    p.slot = &slot;
    p.set_completion(this);
#if CORIO_DEBUG
    p.record.awaited_by = g->parent_record;
#endif
    work.handle().resume();
}

// Runs inside the child's final_suspend, where destroying its frame is allowed: the
// outcome is already here, and freeing the frame now, while it is in cache, spares the
// group a pass over every cold frame when it goes (a million sleepers: 10-15 ms).
template <class T>
std::coroutine_handle<> child<T>::on_finished() noexcept {
    work.handle().destroy();
    (void)work.release();
    child_group* g = group;
    g->child_finished(g, this);
    return g->finish_one();
}

// A child's value for a result tuple: void becomes void_value.
template <class T>
auto take_value(child<T>& c) {
    if constexpr (std::is_void_v<T>) {
        c.result().value();
        return void_value{};
    } else {
        return std::move(c.result()).value();
    }
}

template <class T>
using value_or_void_value = std::conditional_t<std::is_void_v<T>, void_value, T>;

} // namespace corio::detail
