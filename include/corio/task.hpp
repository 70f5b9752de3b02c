#pragma once
// task<T>: a lazy coroutine. Nothing runs until it is awaited (or spawned); completion
// resumes the awaiter; the value or exception reaches the awaiter.
#include <coroutine>
#include <exception>
#include <utility>

#include "corio/detail/frame_alloc.hpp"
#include "corio/detail/operation.hpp"
#include "corio/outcome.hpp"

namespace corio {

template <class T = void>
class task;

namespace detail {

struct task_promise_base : promise_base {
    // An awaiter still inside await_suspend has its result already (see task::awaiter):
    // skip the suspension and let the frame free itself, so the synchronous path makes
    // no indirect call to a continuation and none to destroy().
    struct final_awaiter {
        bool inline_await;
        bool await_ready() const noexcept { return inline_await; }
        template <class P>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
            return h.promise().on_finish();
        }
        void await_resume() const noexcept {}
    };

    std::suspend_always initial_suspend() const noexcept { return {}; }
    final_awaiter final_suspend() const noexcept { return {has_sink()}; }

    static void* operator new(std::size_t n) { return allocate_frame(n); }
    static void operator delete(void* p, std::size_t n) noexcept { deallocate_frame(p, n); }
};

template <class T>
struct task_promise : task_promise_base {
    outcome<T> result;

    // The result goes straight to an inline awaiter, if there is one.
    outcome<T>& target() noexcept {
        return has_sink() ? *static_cast<outcome<T>*>(sink()) : result;
    }

    task<T> get_return_object() noexcept;
    void unhandled_exception() noexcept { target().set_exception(std::current_exception()); }
    template <class U = T>
    void return_value(U&& v) {
        if (has_sink()) // the inline awaiter's outcome is still empty: no reset
            outcome_filler<T>::fill(*static_cast<outcome<T>*>(sink()), std::forward<U>(v));
        else
            result.set_value(std::forward<U>(v));
    }
};

template <>
struct task_promise<void> : task_promise_base {
    outcome<void> result;

    outcome<void>& target() noexcept {
        return has_sink() ? *static_cast<outcome<void>*>(sink()) : result;
    }

    task<void> get_return_object() noexcept;
    void unhandled_exception() noexcept { target().set_exception(std::current_exception()); }
    void return_void() noexcept {
        if (has_sink())
            outcome_filler<void>::fill(*static_cast<outcome<void>*>(sink()));
        else
            result.set_value();
    }
};

} // namespace detail

template <class T>
class [[nodiscard]] task {
public:
    using promise_type = detail::task_promise<T>;
    using handle_type = std::coroutine_handle<promise_type>;
    using value_type = T;

    task() noexcept = default;
    explicit task(handle_type h) noexcept : h_(h) {}
    task(task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
    task& operator=(task&& o) noexcept {
        if (this != &o) {
            if (h_) h_.destroy();
            h_ = std::exchange(o.h_, {});
        }
        return *this;
    }
    ~task() {
        if (h_) h_.destroy();
    }

    bool valid() const noexcept { return bool(h_); }
    bool done() const noexcept { return h_ && h_.done(); }
    handle_type handle() const noexcept { return h_; }
    handle_type release() noexcept { return std::exchange(h_, {}); }

    struct awaiter {
        handle_type& h; // the task's own handle: cleared when the frame has freed itself
        outcome<T> out{};

        bool await_ready() const noexcept { return !h || h.done(); }

        // The child runs inside this call. If it finishes before suspending, it has put
        // its result in `out` and freed its frame; we return false and the parent
        // continues in place, so a million synchronously completing awaits never deepen
        // the stack, whether or not the compiler emits tail calls (-O0, sanitizers).
        // Only a child that suspended learns whom to resume.
        template <class P>
        bool await_suspend(std::coroutine_handle<P> parent) {
            promise_type& cp = h.promise();
            cp.slot = detail::slot_of(parent);
            cp.set_sink(&out);
            h.resume();
            if (!out.empty()) {
                h = {};
                return false;
            }
            cp.set_continuation(parent);
            return true;
        }

        // By value (not T&&): the temporary task dies at the end of the full expression.
        T await_resume() {
            if (!out.empty() || !h) [[likely]]
                return std::move(out).value();
            return std::move(h.promise().result).value();
        }
    };

    awaiter operator co_await() && noexcept { return awaiter{h_}; }
    awaiter operator co_await() & noexcept { return awaiter{h_}; }

private:
    handle_type h_;
};

namespace detail {
template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
    return task<T>(std::coroutine_handle<task_promise<T>>::from_promise(*this));
}
inline task<void> task_promise<void>::get_return_object() noexcept {
    return task<void>(std::coroutine_handle<task_promise<void>>::from_promise(*this));
}
} // namespace detail

} // namespace corio
