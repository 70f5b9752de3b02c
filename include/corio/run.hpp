#pragma once
// corio::run (asyncio.run): makes a loop, runs `main` to completion, cancels and awaits
// whatever it left running, and returns main's value or rethrows its exception.
//
// Ctrl-C: while run() is active on the main thread, the first SIGINT cancels the main
// task (its pending co_await throws cancelled_error) instead of killing the process. Once
// main has unwound and the loop has cleaned up, run() lets SIGINT take its default action,
// so the process ends "killed by SIGINT" (shell status 130) as an interrupted asyncio
// program does; if main caught the cancellation and returned, run() returns its value. A
// second SIGINT while main unwinds kills the process at once. run() leaves SIGINT alone
// when it is not on the main thread, when SIGINT already has a handler or is ignored, when
// main watches SIGINT itself with a signal_set (for as long as the set exists), and when
// asked not to:
// `corio::run(main(), corio::run_options{.handle_sigint = false})`.
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "corio/detail/awaitable_traits.hpp"
#include "corio/platform/sigint.hpp"
#include "corio/loop.hpp"
#include "corio/spawn.hpp"

namespace corio {

/// The clock a loop runs on: real time, or virtual time for tests (event_loop::use_virtual_time).
enum class loop_clock : unsigned char { real_time, virtual_time };
/// run_options{.clock = corio::virtual_time}: timers fire in order without waiting for them.
inline constexpr loop_clock virtual_time = loop_clock::virtual_time;
inline constexpr loop_clock real_time = loop_clock::real_time;

struct run_options {
    bool handle_sigint = true;
    /// corio::virtual_time runs main on a clock that jumps to the next timer whenever the
    /// loop would sleep: a day of sleeps and timeouts runs in milliseconds, in the same order.
    loop_clock clock = loop_clock::real_time;
    /// Debug mode (asyncio's debug=True): slow steps and tasks that never ran are reported;
    /// with CORIO_DEBUG=1 at compile time, dump_tasks() draws the tree of tasks. Also on
    /// when the environment has CORIO_DEBUG=1.
    bool debug = false;
    /// The kernel interface to wait with: automatic (CORIO_BACKEND from the environment,
    /// else io_uring where the kernel allows it, else epoll), or one named. A backend the
    /// kernel refuses falls back to epoll; debug mode says so on stderr.
    corio::backend backend = corio::backend::automatic;
};

namespace detail {

inline bool debug_requested_by_environment() noexcept {
    const char* v = std::getenv("CORIO_DEBUG");
    return v && *v && std::strcmp(v, "0") != 0;
}

template <class T>
bool ended_by_cancellation(task_handle<T>& h) {
    try {
        return is_cancellation(h.exception());
    } catch (const cancelled_error&) {
        return true; // abandoned at shutdown
    }
}

} // namespace detail

template <class Awaitable>
auto run(Awaitable&& main, run_options options = {}) {
    using T = typename detail::task_for_t<Awaitable>::value_type;
    task_handle<T> handle;
    bool interrupted = false;
    {
        event_loop loop(options.backend);
        if (options.clock == loop_clock::virtual_time) loop.use_virtual_time();
        if (options.debug || detail::debug_requested_by_environment()) loop.set_debug();
        // Caught before main runs, so nothing main starts can miss the handler.
        detail::sigint_catcher sigint(loop.reactor(), options.handle_sigint && detail::on_main_thread());
        handle = spawn(std::forward<Awaitable>(main), {.name = "main"});
        const bool& done = handle.done_flag();
        while (!done) {
            loop.turn();
            if (sigint.take()) { // the handler has reset itself: a second SIGINT kills
                interrupted = true;
                handle.cancel();
            }
        }
        loop.shutdown();
        detail::debug().enabled = false;
    }
    if (interrupted && detail::ended_by_cancellation(handle))
        detail::reraise_with_default_action(SIGINT);
    return handle.result();
}

} // namespace corio
