#pragma once
// The awaiter a co_await expression uses: the awaitable's operator co_await (member or
// free), or the awaitable itself.
#include <utility>

namespace corio::detail {

template <class A>
decltype(auto) get_awaiter(A&& a) {
    if constexpr (requires { std::forward<A>(a).operator co_await(); })
        return std::forward<A>(a).operator co_await();
    else if constexpr (requires { operator co_await(std::forward<A>(a)); })
        return operator co_await(std::forward<A>(a));
    else
        return std::forward<A>(a);
}

} // namespace corio::detail
