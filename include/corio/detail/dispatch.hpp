#pragma once
// The dispatch slots of the core (operation::cancel_fn, completion::fn, timer_node::fire,
// io_waiter::ready_fn, the ready queue's and remote queue's items, child_group's callbacks,
// pool_job::execute) are plain function pointers, not virtual functions: an awaiter then
// carries one pointer per slot it uses instead of a vtable pointer plus indirection, and
// stays a standard-layout part of its coroutine frame. Each slot receives a pointer to the
// base the slot lives in; `thunk` is the one place that turns it back into the object that
// owns it and calls that object's member.
//
//   cancel_fn = thunk<operation, &sleep_awaiter::on_cancel>;        // void(operation*)
//   ready_fn  = thunk<io_waiter, &read_some_op::on_ready, void>;     // void(void*)
//
// The owner's bases are often private, so a class using a thunk declares
// `friend struct detail::dispatch;`, which lets the cast see them.
#include <utility>

namespace corio::detail {

struct dispatch {
    // Via: the base the slot points at; Member: the owner's member function to call;
    // Fn: its type, matched exactly so that noexcept carries over to the slot.
    template <class Via, auto Member, class Slot, class Fn = decltype(Member)>
    struct bind;

    template <class Via, auto M, class Slot, class Owner, class R, class... A>
    struct bind<Via, M, Slot, R (Owner::*)(A...) noexcept> {
        static R call(Slot* p, A... a) noexcept {
            return (static_cast<Owner*>(static_cast<Via*>(p))->*M)(std::forward<A>(a)...);
        }
    };

    template <class Via, auto M, class Slot, class Owner, class R, class... A>
    struct bind<Via, M, Slot, R (Owner::*)(A...)> {
        static R call(Slot* p, A... a) {
            return (static_cast<Owner*>(static_cast<Via*>(p))->*M)(std::forward<A>(a)...);
        }
    };
};

/// A function pointer `R(*)(Slot*, A...)` that calls `(owner).*Member(a...)`, where the
/// owner is found from the slot's pointer through its base `Via` (Slot is Via unless the
/// slot passes a void*).
template <class Via, auto Member, class Slot = Via>
inline constexpr auto thunk = &dispatch::bind<Via, Member, Slot>::call;

} // namespace corio::detail
