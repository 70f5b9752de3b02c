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
// main watches SIGINT itself with a signal_set, and when asked not to:
// `corio::run(main(), corio::run_options{.handle_sigint = false})`.
#include <memory>
#include <system_error>
#include <utility>

#include "corio/detail/awaitable_traits.hpp"
#include "corio/loop.hpp"
#include "corio/signal.hpp"
#include "corio/spawn.hpp"

namespace corio {

struct run_options {
    bool handle_sigint = true;
};

namespace detail {

template <class T>
task<void> cancel_main_on_sigint(std::unique_ptr<signal_set> watch, task_handle<T> main,
                                 bool* interrupted) {
    // A local, not the parameter: parameters live as long as the frame, which a
    // task_handle keeps past the body, and the set must go before the loop's services.
    std::unique_ptr<signal_set> sigint = std::move(watch);
    co_await sigint->wait();
    sigint.reset(); // from now on SIGINT acts by default: a stuck shutdown can be interrupted
    *interrupted = true;
    main.cancel();
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
        event_loop loop;
        std::unique_ptr<signal_set> sigint;
        // Watching starts before main runs, so the worker threads main starts inherit
        // the blocked mask and SIGINT never lands on them.
        if (options.handle_sigint && detail::on_main_thread() &&
            detail::has_default_action(SIGINT)) {
            try {
                sigint = std::make_unique<signal_set>(detail::fallback_watch,
                                                      std::initializer_list<int>{SIGINT});
            } catch (const std::system_error&) {
                // No descriptor to spare (a lowered RLIMIT_NOFILE): run without Ctrl-C handling.
            }
        }
        handle = spawn(std::forward<Awaitable>(main));
        task_handle<void> watcher;
        if (sigint)
            watcher = spawn(detail::cancel_main_on_sigint(std::move(sigint), handle, &interrupted));
        loop.run_until(handle.done_flag());
        loop.shutdown();
    }
    if (interrupted && detail::ended_by_cancellation(handle))
        detail::reraise_with_default_action(SIGINT);
    return handle.result();
}

} // namespace corio
