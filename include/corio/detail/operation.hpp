#pragma once
// The one cancellation path. Every suspended awaitable that can be cancelled is an
// `operation`; the task it suspends points at it through a `cancel_slot`. Requesting
// cancellation of the slot cancels that operation now, or the next one to suspend.
#include <coroutine>
#include <cstdint>
#include <type_traits>

#include "corio/detail/dispatch.hpp"
#include "corio/detail/task_debug.hpp"
#include "corio/errors.hpp"

namespace corio::detail {

struct operation {
    // Must not resume the coroutine inline: it schedules it (the canceller may be running).
    void (*cancel_fn)(operation*) noexcept = nullptr;
};

// One word: the operation the task is suspended in (if cancellable), or the "pending" bit
// for a cancellation requested while it was not suspended. Every gather child has one,
// so its size counts (a million sleeping tasks).
class cancel_slot {
public:
    void request() noexcept {
        if (operation* o = op()) {
            bits_ = 0;
            o->cancel_fn(o);
        } else {
            bits_ = pending_bit;
        }
    }
    operation* op() const noexcept {
        return bits_ & pending_bit ? nullptr : reinterpret_cast<operation*>(bits_);
    }
    bool pending() const noexcept { return bits_ & pending_bit; }
    // Consumes a pending request; true if there was one.
    bool take_pending() noexcept {
        if (!(bits_ & pending_bit)) return false;
        bits_ = 0;
        return true;
    }
    void set_op(operation* o) noexcept { bits_ = reinterpret_cast<std::uintptr_t>(o); }
    void clear_op(operation* o) noexcept {
        if (bits_ == reinterpret_cast<std::uintptr_t>(o)) bits_ = 0;
    }

private:
    static constexpr std::uintptr_t pending_bit = 1;
    std::uintptr_t bits_ = 0;
};

// Called by a child task when it reaches final_suspend; returns what to resume next.
// Whoever hands a record to a promise sets `fn` first (the awaiter of a task only when
// its child suspends), so it is not initialised here.
struct completion {
    std::coroutine_handle<> (*fn)(completion*) noexcept;
};

// Shared by every corio promise: the cancellation slot awaiters find, and who takes the
// result, told apart by the low bits: a completion record (1: an awaiter whose child
// suspended, spawned tasks, group children), or the outcome of an awaiter still inside
// await_suspend (2): the child then stores its result there, frees its own frame at
// final_suspend and simply returns to that awaiter. Whoever starts a task sets both
// first, so creating a frame does not initialise them (the user-provided constructor
// keeps value-initialisation of the promise from zeroing them).
struct promise_base {
    cancel_slot* slot;

#if CORIO_DEBUG
    frame_record record;

    promise_base() noexcept { debug().frames.push_back(record); }
    ~promise_base() {
        intrusive_list<frame_record>::erase(record);
        if (record.frame) debug().by_frame.erase(record.frame);
        if (record.st == frame_record::state::created && debug().enabled) {
            try {
                debug().emit("task " + std::string(record.created.function ? record.created.function : "?") +
                             " created at " + record.created.short_form() + " was destroyed without ever running");
            } catch (...) {
            }
        }
    }
    promise_base(const promise_base&) = delete;
#else
    promise_base() noexcept {}
#endif

    void set_completion(completion* c) noexcept { next_ = reinterpret_cast<std::uintptr_t>(c) | 1; }
    void set_sink(void* result) noexcept { next_ = reinterpret_cast<std::uintptr_t>(result) | 2; }

    // Whether an inline awaiter wants the result, and where (only if it does). Tag 3 is
    // never used, so one bit test tells.
    bool has_sink() const noexcept { return next_ & 2; }
    void* sink() const noexcept { return reinterpret_cast<void*>(next_ - 2); }
    // The completion record (only when there is one).
    completion* completion_record() const noexcept { return reinterpret_cast<completion*>(next_ - 1); }

    // Only without a sink.
    std::coroutine_handle<> on_finish() noexcept {
        completion* c = completion_record();
        return c->fn(c);
    }

private:
    std::uintptr_t next_;
};

template <class Promise>
cancel_slot* slot_of(std::coroutine_handle<Promise> h) noexcept {
    if constexpr (std::is_base_of_v<promise_base, Promise>)
        return h.promise().slot;
    else
        return nullptr;
}

#if CORIO_DEBUG
template <class Promise>
frame_record* record_of(std::coroutine_handle<Promise> h) noexcept {
    if constexpr (std::is_base_of_v<promise_base, Promise>)
        return &h.promise().record;
    else
        return nullptr;
}
#endif

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
        if (s->take_pending()) {
            cancelled = true;
            return false;
        }
        s->set_op(this);
        return true;
    }
    void disarm() noexcept {
        if (slot) slot->clear_op(this);
    }

    // For await_resume after a real suspension: true when the task was cancelled between
    // the wake-up and this resumption. asyncio delivers such a cancellation at this resume
    // point, so the caller undoes what the wake-up handed over (a lock, an item, a permit)
    // and throws. Consuming the request here also merges a second cancel() that arrived
    // after the first was delivered to the wait: one cancel_error per resumption.
    bool cancelled_after_wake() noexcept { return slot && slot->take_pending(); }

    // The common end of a wait with nothing to undo: throws if it was cancelled while
    // waiting or after its wake-up.
    void throw_if_cancelled_on_resume() {
        bool late = cancelled_after_wake();
        if (cancelled || late) throw cancelled_error();
    }
};

} // namespace corio::detail
