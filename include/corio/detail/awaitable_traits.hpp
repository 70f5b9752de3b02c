#pragma once
// What co_await on an arbitrary awaitable yields, and wrapping any awaitable into a task
// so the group awaiters can run it as a child.
#include <coroutine>
#include <type_traits>
#include <utility>

#include "corio/detail/get_awaiter.hpp"
#include "corio/detail/invoke.hpp"
#include "corio/task.hpp"

namespace corio::detail {

template <class A>
using await_result_t = decltype(get_awaiter(std::declval<A>()).await_resume());

template <class T>
struct is_task : std::false_type {};
template <class T>
struct is_task<task<T>> : std::true_type {};

template <class A>
concept awaitable = requires(A&& a) { get_awaiter(std::forward<A>(a)).await_ready(); };

template <class A>
task<await_result_t<A>> wrap_awaitable(A a) {
    co_return co_await std::move(a);
}

// The callable (a lambda with captures, typically) lives in this frame for as long as
// the task it returns runs: `spawn([&]() -> task<> {...})` is safe, whereas spawning
// `[&]() -> task<> {...}()` leaves the coroutine pointing at a dead closure.
template <class F, class... Args>
auto invoke_owned(F f, Args... args)
    -> task<await_result_t<std::invoke_result_t<F&, Args&...>>> {
    co_return co_await detail::invoke(f, args...);
}

// invoke_owned with decayed copies (or moves) of f and the args: spawn(f, args...).
template <class F, class... Args>
auto bind_owned(F&& f, Args&&... args) {
    return invoke_owned(std::decay_t<F>(std::forward<F>(f)), std::decay_t<Args>(std::forward<Args>(args))...);
}

// task<T> passes through; any other awaitable is wrapped in one; a callable returning an
// awaitable is kept alive and invoked.
template <class A>
auto into_task(A&& a) {
    if constexpr (is_task<std::remove_cvref_t<A>>::value)
        return std::move(a);
    else if constexpr (awaitable<A>)
        return wrap_awaitable<std::remove_cvref_t<A>>(std::forward<A>(a));
    else
        return invoke_owned(std::decay_t<A>(std::forward<A>(a)));
}

template <class A>
using task_for_t = decltype(into_task(std::declval<A>()));

} // namespace corio::detail
