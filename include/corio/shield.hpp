#pragma once
// shield (asyncio.shield): the work runs as a task of its own, so cancelling the task that
// awaits it does not cancel the work.
#include <utility>

#include "corio/detail/awaitable_traits.hpp"
#include "corio/spawn.hpp"
#include "corio/task.hpp"

namespace corio {

namespace detail {

template <class T>
task<T> shielded(task<T> work) {
    auto h = corio::spawn(std::move(work));
    co_await h.wait(); // its own cancellation leaves the work running
    co_return h.result();
}

} // namespace detail

/// Awaits `work` (an awaitable, or a callable returning one) and gives its result, but
/// the work is spawned on the loop when this is awaited, so a cancellation of the awaiting
/// task does not reach it: the awaiter throws cancelled_error at once and the work goes on
/// to its end on its own. A failure of the work after the awaiter has left goes to the
/// loop's exception handler, as a detached task's does (asyncio drops it silently). The
/// work only starts when this is awaited; it starts on the next loop turn, as spawn's.
template <class Awaitable>
auto shield(Awaitable&& work) {
    return detail::shielded(detail::into_task(std::forward<Awaitable>(work)));
}

} // namespace corio
