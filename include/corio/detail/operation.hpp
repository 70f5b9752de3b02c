#pragma once
// The one cancellation path. Every suspended awaitable that can be cancelled is an
// `operation`; the task it suspends points at it through a `cancel_slot`. Requesting
// cancellation of the slot cancels that operation now, or the next one to suspend.
#include <coroutine>
#include <type_traits>

namespace corio::detail {

struct operation {
    // Must not resume the coroutine inline: it schedules it (the canceller may be running).
    void (*cancel_fn)(operation*) noexcept = nullptr;
};

struct cancel_slot {
    operation* op = nullptr; // the operation the task is suspended in, if cancellable
    bool pending = false;    // cancellation requested while not suspended

    void request() noexcept {
        if (op) {
            operation* o = op;
            op = nullptr;
            o->cancel_fn(o);
        } else {
            pending = true;
        }
    }
};

// Called by a child task when it reaches final_suspend; returns what to resume next.
struct completion {
    std::coroutine_handle<> (*fn)(completion*) noexcept = nullptr;
};

// Shared by every corio promise: what lets awaiters find the cancellation slot.
struct promise_base {
    std::coroutine_handle<> continuation;
    cancel_slot* slot = nullptr;
    completion* on_done = nullptr; // set for roots (spawned tasks, gather children)
    // Set while the awaiting coroutine is still inside await_suspend, so a child that
    // finishes synchronously hands control back by returning instead of resuming it:
    // the stack stays flat even where the compiler does not turn symmetric transfer
    // into a tail call (-O0, sanitizers).
    bool started_inline = false;
    bool finished_inline = false;
};

template <class Promise>
cancel_slot* slot_of(std::coroutine_handle<Promise> h) noexcept {
    if constexpr (std::is_base_of_v<promise_base, Promise>)
        return h.promise().slot;
    else
        return nullptr;
}

// Base for awaiters that can be cancelled: arm() on suspend, disarm() on completion.
struct cancellable : operation {
    cancel_slot* slot = nullptr;
    bool cancelled = false;

    // False when a cancellation is already pending: the caller must not suspend, and
    // its await_resume will throw.
    bool arm(cancel_slot* s, void (*fn)(operation*) noexcept) noexcept {
        cancel_fn = fn;
        slot = s;
        if (!s) return true;
        if (s->pending) {
            s->pending = false;
            cancelled = true;
            return false;
        }
        s->op = this;
        return true;
    }
    void disarm() noexcept {
        if (slot && slot->op == this) slot->op = nullptr;
    }
};

} // namespace corio::detail
