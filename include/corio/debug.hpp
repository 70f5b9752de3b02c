#pragma once
// Debug mode's questions about a running program: which tasks exist, where each one
// waits, and who waits for it (asyncio's all_tasks() and Task.print_stack(), as a tree).
//
// The task records these read are compiled in with CORIO_DEBUG=1 (a -D flag, the same in
// every file of the program); without it all_tasks() is empty and dump_tasks() says how
// to get them. Debug mode's reports (slow steps, tasks that never ran) are switched on at
// run time by run_options{.debug = true} or CORIO_DEBUG=1 in the environment.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "corio/detail/task_debug.hpp"

namespace corio {

/// A live spawned task (or a server's connection handler), as all_tasks() lists it.
struct task_info {
    std::string name;     // given to spawn({.name = ...}), else where spawn was called
    std::string function; // the task's coroutine function
    std::string state;    // "not started", "running", "suspended" or "finished"
    std::string where;    // "file.cpp:42": the co_await it waits in, when suspended
};

/// Every live task on this thread's loop, oldest first (asyncio.all_tasks()). Debug builds
/// only (CORIO_DEBUG=1); empty otherwise.
inline std::vector<task_info> all_tasks() {
    std::vector<task_info> out;
    detail::debug().frames.for_each([&](detail::frame_record& r) {
        if (!r.root) return;
        out.push_back({r.name, r.created.function ? r.created.function : "?", detail::state_name(r.st),
                       r.st == detail::frame_record::state::suspended ? r.suspended_at.short_form() : ""});
    });
    return out;
}

/// The live tasks as a tree: each spawned task with the chain of tasks it awaits below it,
/// the children of a gather side by side, each line naming the co_await the task waits in.
inline std::string format_tasks() {
    if (!CORIO_DEBUG) return "corio: compile with -DCORIO_DEBUG=1 to see the tasks\n";
    return detail::task_tree();
}

/// Prints format_tasks() to `out` (stderr by default), e.g. from a SIGQUIT handler task.
inline void dump_tasks(std::FILE* out = stderr) {
    std::string s = format_tasks();
    std::fwrite(s.data(), 1, s.size(), out);
    std::fflush(out);
}

/// Debug builds: the chain of awaiting tasks an exception was raised under, innermost
/// first, one "  in ..." line per task; empty if it was not raised in a task frame. For an
/// exception handler (set_exception_handler) that logs its own way; the default handler
/// prints it.
inline std::string async_stack_of(const std::exception_ptr& e) { return detail::stack_of(e); }

} // namespace corio
