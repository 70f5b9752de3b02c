#pragma once
// corio::run (asyncio.run): makes a loop, runs `main` to completion, cancels and awaits
// whatever it left running, and returns main's value or rethrows its exception.
#include <utility>

#include "corio/loop.hpp"
#include "corio/spawn.hpp"

namespace corio {

template <class Awaitable>
auto run(Awaitable&& main) {
    event_loop loop;
    auto handle = spawn(std::forward<Awaitable>(main));
    loop.run_until(handle.done_flag());
    loop.shutdown();
    return handle.result();
}

} // namespace corio
