#pragma once
// The error for a wait on another loop's object: a template on the loop type, so loop.hpp
// can include it before event_loop is complete.
#include <cstdio>
#include <stdexcept>

namespace corio::detail {

// Refuses a wait by a task of loop `here` on an object of loop `owner` (null when not
// known: the loop of a closed descriptor may be gone). Only the owner's thread sees the
// object's wake-ups, so the task would be resumed there, racing with its own loop.
template <class Loop>
[[noreturn, gnu::cold, gnu::noinline]] void throw_foreign_loop(const char* object, int fd, const Loop* owner,
                                                               const Loop* here) {
    char what[64] = "";
    if (fd >= 0) std::snprintf(what, sizeof what, " (fd %d)", fd);
    char mine[96] = "another event loop (or one that has ended)";
    if (owner)
        std::snprintf(mine, sizeof mine, "event loop #%llu (thread %ld)",
                      static_cast<unsigned long long>(owner->id()), owner->thread_id());
    char theirs[96] = "no event loop";
    if (here)
        std::snprintf(theirs, sizeof theirs, "event loop #%llu (thread %ld)",
                      static_cast<unsigned long long>(here->id()), here->thread_id());
    char message[512];
    std::snprintf(message, sizeof message,
                  "corio: %s%s belongs to %s and cannot be awaited from a task on %s; hand work "
                  "between loops with call_soon_threadsafe or to_thread",
                  object, what, mine, theirs);
    throw std::logic_error(message);
}

} // namespace corio::detail
