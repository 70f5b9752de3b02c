#pragma once
// Debug mode's view of task frames. With CORIO_DEBUG defined to 1 when compiling, every
// corio promise carries a frame_record: where its coroutine was created, the co_await it
// last reached, the frame that awaits it, and its state. The records of a thread form one
// list, so the tasks can be listed and drawn as a tree (debug.hpp). Without CORIO_DEBUG
// none of this is compiled into a frame: the records cost a frame 64 bytes and every
// co_await two stores, which the hot path must not pay.
//
// The settings (enabled, slow_step, where reports go) exist in every build: the loop
// checks for slow steps in both, and simply has no frame to name without the records.
#include "corio/detail/chrono.hpp"
#include <coroutine>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#if CORIO_DEBUG
#include <unordered_map>
#endif
#include <utility>
#include <vector>

#include "corio/detail/callback.hpp"
#include "corio/detail/get_awaiter.hpp"
#include "corio/detail/intrusive_list.hpp"

#ifndef CORIO_DEBUG
#define CORIO_DEBUG 0
#endif

namespace corio::detail {

/// A place in the source, captured by default arguments (std::source_location is missing
/// from clang 14 with libstdc++ 12; the builtins are in every supported compiler).
struct code_location {
    const char* file = nullptr;
    unsigned line = 0;
    const char* function = nullptr;

    static constexpr code_location here(const char* file = __builtin_FILE(), unsigned line = __builtin_LINE(),
                                        const char* function = __builtin_FUNCTION()) noexcept {
        return {file, line, function};
    }
    explicit operator bool() const noexcept { return file != nullptr; }

    /// "file.cpp:42": the file's name without its directories, so output is the same in any build tree.
    std::string short_form() const {
        if (!file) return "?";
        const char* slash = std::strrchr(file, '/');
        return std::string(slash ? slash + 1 : file) + ":" + std::to_string(line);
    }
};

struct frame_record : list_hook {
    enum class state : unsigned char { created, running, suspended, finished };

    code_location created;      // the coroutine function, where its frame was made
    code_location suspended_at; // the latest co_await it reached
    frame_record* awaited_by = nullptr;
    void* frame = nullptr; // the coroutine's address, as the ready queue holds it
    std::string name;      // spawned tasks: given to spawn, or where spawn was called
    state st = state::created;
    bool root = false;          // a spawned task (or a connection's handler)
    bool slow_reported = false; // a slow step is reported once per frame

    void know_frame(void* address) noexcept;
};

/// Where debug reports go, and what counts as slow. One per thread, as a loop is.
struct debug_settings {
    bool enabled = false;
    std::chrono::nanoseconds slow_step = std::chrono::milliseconds(100);
    callback<void(const std::string&)> sink; // default: a line on stderr
    intrusive_list<frame_record> frames; // live frames of this thread, oldest first
#if CORIO_DEBUG
    std::unordered_map<void*, frame_record*> by_frame; // to name what the ready queue resumes
#endif
    // The async stack of exceptions raised in task frames, until they are reported; a few
    // at most are kept (an exception that is caught and dropped leaves its entry behind).
    std::vector<std::pair<std::exception_ptr, std::string>> stacks;

    void emit(const std::string& line) {
        if (sink)
            sink(line);
        else
            std::fprintf(stderr, "corio debug: %s\n", line.c_str());
    }
};

inline debug_settings& debug() noexcept {
    static thread_local debug_settings s;
    return s;
}

#if CORIO_DEBUG
inline void frame_record::know_frame(void* address) noexcept {
    frame = address;
    try {
        debug().by_frame[address] = this;
    } catch (...) { // out of memory: a slow step of this frame goes unnamed
        frame = nullptr;
    }
}
#endif

/// The record of the frame at `address`, if it is a corio task's (debug builds only).
inline frame_record* frame_record_of(void* address) noexcept {
#if CORIO_DEBUG
    auto& frames = debug().by_frame;
    auto it = frames.find(address);
    return it == frames.end() ? nullptr : it->second;
#else
    (void)address;
    return nullptr;
#endif
}

inline const char* state_name(frame_record::state s) noexcept {
    switch (s) {
    case frame_record::state::created: return "not started";
    case frame_record::state::running: return "running";
    case frame_record::state::suspended: return "suspended";
    default: return "finished";
    }
}

/// One line for a frame: `"name" function (suspended at file.cpp:42)`.
inline std::string describe(const frame_record& r) {
    std::string s;
    if (r.root && !r.name.empty()) s += "\"" + r.name + "\" ";
    s += r.created.function ? r.created.function : "?";
    s += " (";
    s += state_name(r.st);
    if (r.st == frame_record::state::suspended) s += " at " + r.suspended_at.short_form();
    if (r.st == frame_record::state::created) s += ", created at " + r.created.short_form();
    s += ")";
    return s;
}

/// The chain from a frame up to its root, innermost first.
inline std::string async_stack(const frame_record* r) {
    std::string s;
    for (; r; r = r->awaited_by) {
        s += "  in " + describe(*r) + "\n";
    }
    return s;
}

/// The frames of this thread as a tree: roots (spawned tasks) first, each followed by
/// what it awaits, gather children side by side.
inline std::string task_tree() {
    std::vector<const frame_record*> all;
    debug().frames.for_each([&](frame_record& r) { all.push_back(&r); });
    std::string out;
    auto draw = [&](auto& self, const frame_record* r, const std::string& lead, bool last, bool top) -> void {
        out += top ? std::string() : lead + (last ? "└─ " : "├─ ");
        out += describe(*r) + "\n";
        std::vector<const frame_record*> kids;
        for (const frame_record* k : all)
            if (k->awaited_by == r) kids.push_back(k);
        std::string next = top ? std::string() : lead + (last ? "   " : "│  ");
        for (std::size_t i = 0; i < kids.size(); ++i) self(self, kids[i], next, i + 1 == kids.size(), false);
    };
    for (const frame_record* r : all)
        if (!r->awaited_by) draw(draw, r, "", true, true);
    return out;
}

/// Keeps the async stack of an exception leaving a task frame (the innermost one wins).
inline void remember_stack(const frame_record* r) noexcept {
    try {
        auto& d = debug();
        std::exception_ptr e = std::current_exception();
        for (auto& [known, stack] : d.stacks)
            if (known == e) return;
        if (d.stacks.size() >= 64) d.stacks.erase(d.stacks.begin());
        d.stacks.emplace_back(std::move(e), async_stack(r));
    } catch (...) {
    }
}

inline std::string stack_of(const std::exception_ptr& e) {
    for (auto& [known, stack] : debug().stacks)
        if (known == e) return stack;
    return {};
}

/// Debug mode's report of a step that held the loop `took`: the task, where it resumed
/// and where it stopped (rec is null when the step was not a task's, or it finished).
inline void report_slow_step(const frame_record* rec, code_location from, std::chrono::milliseconds took) noexcept {
    try {
        std::string line = "slow step: ";
        if (rec) {
            const frame_record* root = rec;
            while (root->awaited_by) root = root->awaited_by;
            line += root->root ? "task \"" + root->name + "\"" : std::string("a task");
            line += std::string(" in ") + (rec->created.function ? rec->created.function : "?");
            if (from) line += ", resumed at " + from.short_form() + ",";
        } else {
            line += "a callback";
        }
        line += " held the loop for " + std::to_string(took.count()) + " ms";
        if (rec && rec->st == frame_record::state::suspended) line += " until " + rec->suspended_at.short_form();
        debug().emit(line);
    } catch (...) {
    }
}

/// Debug builds: where an exception was raised, as a chain of awaiting tasks, on stderr.
inline void print_async_stack(const std::exception_ptr& e) noexcept {
    try {
        std::string stack = stack_of(e);
        if (!stack.empty()) std::fprintf(stderr, "async stack, innermost first:\n%s", stack.c_str());
    } catch (...) {
    }
}

/// Wraps the awaiter of every co_await in a debug build, to know where a frame waits.
template <class Awaiter>
struct traced_awaiter {
    Awaiter aw;
    frame_record* rec;
    code_location at;

    decltype(auto) await_ready() { return aw.await_ready(); }
    template <class P>
    decltype(auto) await_suspend(std::coroutine_handle<P> h) {
        rec->suspended_at = at;
        rec->st = frame_record::state::suspended;
        return aw.await_suspend(h);
    }
    decltype(auto) await_resume() {
        rec->st = frame_record::state::running;
        return aw.await_resume();
    }
};

} // namespace corio::detail
