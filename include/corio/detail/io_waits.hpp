#pragma once
// The one owner of waiting on a descriptor. A waiter parks in its descriptor's reader or
// writer slot and counts as outstanding I/O, so the loop's shutdown waits for it; it
// leaves the slot exactly once, by an edge (wake), by its own cancellation or end
// (unpark), or with a descriptor that closes under it (forget). Every backend reports
// edges here, and every operation that waits for readiness parks here, so the rules live
// in one place: an io_uring backend plugs in at the same seam.
#include <stdexcept>

#include "corio/detail/io_state.hpp"
#include "corio/detail/scheduler.hpp"

namespace corio::detail {

class io_waits {
public:
    explicit io_waits(scheduler& s) noexcept : sched_(s) {}
    io_waits(const io_waits&) = delete;
    io_waits& operator=(const io_waits&) = delete;

    // Waiters parked now, on every descriptor of the loop (background watches excepted).
    long parked() const noexcept { return parked_; }

    // A backend that watches only what is waited for (io_uring's one-shot polls) is told
    // of every park; one that watches each descriptor for its life (epoll, kqueue) sets none.
    void set_arm_hook(void (*arm)(void*, io_state&, bool), void* context) noexcept {
        arm_ = arm;
        arm_context_ = context;
    }

    // Parks `w`; a second waiter in the same direction is a logic error (one reader and
    // one writer per descriptor, as asyncio's streams allow).
    void park(io_state& s, bool for_write, io_waiter& w) {
        io_waiter*& slot = for_write ? s.writer : s.reader;
        if (slot)
            throw std::logic_error(for_write ? "corio: two concurrent writers on one descriptor"
                                             : "corio: two concurrent readers on one descriptor");
        if (arm_) arm_(arm_context_, s, for_write);
        slot = &w;
        if (!w.background) ++parked_;
    }

    // Takes `w` out if it is still parked (cancelled, or its frame is going away).
    bool unpark(io_state& s, bool for_write, io_waiter& w) noexcept {
        io_waiter*& slot = for_write ? s.writer : s.reader;
        if (slot != &w) return false;
        slot = nullptr;
        if (!w.background) --parked_;
        return true;
    }

    // An edge (io_readable / io_writable, with io_error for an error or hang-up), or a
    // descriptor closing (all three): the waiters it concerns are disarmed and queued, to
    // resume their task or, with a ready_fn, to retry their syscall first.
    void wake(io_state& s, unsigned what) noexcept {
        bool error = what & io_error;
        if ((what & io_readable) && s.reader) resume(take(s.reader), error);
        if ((what & io_writable) && s.writer) resume(take(s.writer), error);
    }

    // The descriptor closes together with its waiters' frames (destructors, loop
    // teardown): they are dropped without being resumed.
    void forget(io_state& s) noexcept {
        if (s.reader) take(s.reader);
        if (s.writer) take(s.writer);
    }

private:
    io_waiter* take(io_waiter*& slot) noexcept {
        io_waiter* w = slot;
        if (!w->background) --parked_;
        slot = nullptr;
        return w;
    }
    void resume(io_waiter* w, bool error) noexcept {
        w->disarm();
        w->hangup = error;
        if (w->ready_fn)
            sched_.post(w->ready_fn, static_cast<void*>(w));
        else
            sched_.post(w->handle);
    }

    scheduler& sched_;
    long parked_ = 0;
    void (*arm_)(void*, io_state&, bool) = nullptr;
    void* arm_context_ = nullptr;
};

} // namespace corio::detail
