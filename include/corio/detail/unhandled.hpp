#pragma once
// The last resort for an exception nobody will see (a failed task never awaited): one
// line on stderr with its demangled type and message, then the task's async stack.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <typeinfo>

#if __has_include(<cxxabi.h>)
#include <cxxabi.h>
#endif

#include "corio/detail/task_debug.hpp"

namespace corio::detail {

inline void print_unhandled(std::exception_ptr e) noexcept {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        const char* name = typeid(ex).name();
#if __has_include(<cxxabi.h>)
        int status = 0;
        std::unique_ptr<char, void (*)(void*)> readable(abi::__cxa_demangle(name, nullptr, nullptr, &status),
                                                        std::free);
        if (status == 0 && readable) name = readable.get();
#endif
        std::fprintf(stderr, "corio: unhandled exception in a spawned task: %s: %s\n", name, ex.what());
        print_async_stack(e);
    } catch (...) {
        std::fprintf(stderr, "corio: unhandled exception in a spawned task (not a std::exception)\n");
        print_async_stack(e);
    }
}

} // namespace corio::detail
