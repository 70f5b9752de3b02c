#pragma once
// The one cancellation path. Every suspended awaitable that can be cancelled is an
// `operation`; the task it suspends points at it through a `cancel_slot`. Requesting
// cancellation of the slot cancels that operation now, or the next one to suspend.
#include <coroutine>
#include <cstdint>
#include <type_traits>

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
struct completion {
    std::coroutine_handle<> (*fn)(completion*) noexcept = nullptr;
};

// Shared by every corio promise: the cancellation slot awaiters find, and what to run
// when the task finishes, told apart by the low bits: the awaiting coroutine (0), a
// completion record (1: spawned tasks, group children), or the result slot of an awaiter
// still inside await_suspend (2): the child then stores its result there, frees its own
// frame at final_suspend and simply returns to that awaiter.
struct promise_base {
    cancel_slot* slot = nullptr;

    void set_continuation(std::coroutine_handle<> h) noexcept {
        next_ = reinterpret_cast<std::uintptr_t>(h.address());
    }
    void set_completion(completion* c) noexcept { next_ = reinterpret_cast<std::uintptr_t>(c) | 1; }
    void set_sink(void* result) noexcept { next_ = reinterpret_cast<std::uintptr_t>(result) | 2; }
    void clear_next() noexcept { next_ = 0; }

    // Whether an inline awaiter wants the result, and where (only if it does). Tag 3 is
    // never used, so one bit test tells.
    bool has_sink() const noexcept { return next_ & 2; }
    void* sink() const noexcept { return reinterpret_cast<void*>(next_ - 2); }

    std::coroutine_handle<> on_finish() noexcept {
        if (next_ & 1) {
            auto* c = reinterpret_cast<completion*>(next_ & ~std::uintptr_t(1));
            return c->fn(c);
        }
        if (next_ == 0) return std::noop_coroutine();
        return std::coroutine_handle<>::from_address(reinterpret_cast<void*>(next_));
    }

private:
    std::uintptr_t next_ = 0;
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
};

} // namespace corio::detail
