#pragma once
// task<T>: a lazy coroutine. Nothing runs until it is awaited (or spawned); completion
// resumes the awaiter; the value or exception reaches the awaiter.
#include <coroutine>
#include <cstddef>
#include <exception>
#include <new>
#include <utility>

#include "corio/detail/frame_alloc.hpp"
#include "corio/detail/operation.hpp"
#include "corio/outcome.hpp"

namespace corio {

template <class T = void>
class task;

namespace detail {

struct task_promise_base : promise_base {
    /// An awaiter still inside await_suspend has its result already (see task::awaiter):
    /// skip the suspension and let the frame free itself, so the synchronous path makes
    /// no indirect call to a continuation and none to destroy().
    struct final_awaiter {
        bool inline_await;
        bool await_ready() const noexcept { return inline_await; }
        template <class P>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
            return h.promise().on_finish();
        }
        void await_resume() const noexcept {}
    };

#if CORIO_DEBUG
    struct initial_awaiter {
        frame_record* rec;
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<>) const noexcept {}
        void await_resume() const noexcept { rec->st = frame_record::state::running; }
    };
    initial_awaiter initial_suspend() noexcept { return {&record}; }
    final_awaiter final_suspend() noexcept {
        record.st = frame_record::state::finished;
        return {has_sink()};
    }
    /// Debug builds see every co_await go by: where the frame waits, and whether it runs.
    template <class A>
    auto await_transform(A&& a, code_location at = code_location::here()) {
        using awaiter_type = decltype(get_awaiter(std::forward<A>(a)));
        return traced_awaiter<awaiter_type>{get_awaiter(std::forward<A>(a)), &record, at};
    }
    void remember_exception_stack() noexcept { remember_stack(&record); }
#else
    std::suspend_always initial_suspend() const noexcept { return {}; }
    final_awaiter final_suspend() const noexcept { return {has_sink()}; }
    void remember_exception_stack() const noexcept {}
#endif

    /// Compilers implementing P2014 (clang 16 with -fcoro-aligned-allocation) call the
    /// aligned form for every frame, so an over-aligned frame gets its alignment; with the
    /// plain form alone they would warn and settle for operator new's. Others (GCC 12,
    /// clang 14) only call the plain form, whose blocks have operator new's alignment.
    static void* operator new(std::size_t n) { return allocate_frame(n); }
    static void* operator new(std::size_t n, std::align_val_t a) { return allocate_frame(n, a); }
    static void operator delete(void* p, std::size_t n) noexcept { deallocate_frame(p, n); }
    static void operator delete(void* p, std::size_t n, std::align_val_t a) noexcept { deallocate_frame(p, n, a); }
};

/// The result of a task never lives in its frame, only with whoever waits for it: an
/// awaiter still inside await_suspend gives the outcome to fill (tag 2, the fast path);
/// everything else (an awaiter whose child suspended, a gather child, a spawned task)
/// is a completion record carrying the outcome, so the frame holds no variant to
/// initialise, test and destroy, and the result is written once, where it is read.
template <class T>
struct result_completion : completion {
    outcome<T> out;
};

template <class T>
struct task_promise : task_promise_base {
    /// Both are empty when the task ends: it runs once.
    outcome<T>& target() noexcept {
        if (has_sink()) return *static_cast<outcome<T>*>(sink());
        return static_cast<result_completion<T>*>(completion_record())->out;
    }

#if CORIO_DEBUG
    task_promise(code_location created = code_location::here()) noexcept { record.created = created; }
#endif
    task<T> get_return_object() noexcept;
    void unhandled_exception() noexcept {
        remember_exception_stack();
        target().set_exception(std::current_exception());
    }
    template <class U = T>
    void return_value(U&& v) {
        outcome_filler<T>::fill(target(), std::forward<U>(v));
    }
};

template <>
struct task_promise<void> : task_promise_base {
    outcome<void>& target() noexcept {
        if (has_sink()) return *static_cast<outcome<void>*>(sink());
        return static_cast<result_completion<void>*>(completion_record())->out;
    }

#if CORIO_DEBUG
    task_promise(code_location created = code_location::here()) noexcept { record.created = created; }
#endif
    task<void> get_return_object() noexcept;
    void unhandled_exception() noexcept {
        remember_exception_stack();
        target().set_exception(std::current_exception());
    }
    void return_void() noexcept { outcome_filler<void>::fill(target()); }
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

    /// The outcome is the awaiter's own; only a child that suspends is told, through the
    /// completion record, whom to resume.
    struct awaiter : detail::result_completion<T> {
        handle_type& h; // the task's own handle: cleared when the frame has freed itself
        void* parent; // set only when the child suspends

        explicit awaiter(handle_type& t) noexcept : h(t) {}

        bool await_ready() const noexcept { return !h || h.done(); }

        /// The child runs inside this call. If it finishes before suspending, it has put
        /// its result in `out` and freed its frame; we return false and the parent
        /// continues in place, so a million synchronously completing awaits never deepen
        /// the stack, whether or not the compiler emits tail calls (-O0, sanitizers).
        template <class P>
        bool await_suspend(std::coroutine_handle<P> p) {
            promise_type& cp = h.promise();
            cp.slot = detail::slot_of(p);
#if CORIO_DEBUG
            cp.record.awaited_by = detail::record_of(p);
#endif
            cp.set_sink(&this->out);
            h.resume();
            if (!this->out.empty()) {
                h = {};
                return false;
            }
            parent = p.address();
            this->fn = detail::thunk<detail::completion, &awaiter::resume_parent>;
            cp.set_completion(this);
            return true;
        }

        /// By value (not T&&): the temporary task dies at the end of the full expression.
        /// A task awaited a second time has no result left: value() throws logic_error.
        T await_resume() { return std::move(this->out).value(); }

    private:
        friend struct detail::dispatch;
        std::coroutine_handle<> resume_parent() noexcept { return std::coroutine_handle<>::from_address(parent); }
    };

    awaiter operator co_await() && noexcept { return awaiter(h_); }
    awaiter operator co_await() & noexcept { return awaiter(h_); }

private:
    handle_type h_;
};

namespace detail {
template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
    auto h = std::coroutine_handle<task_promise<T>>::from_promise(*this);
#if CORIO_DEBUG
    record.know_frame(h.address());
#endif
    return task<T>(h);
}
inline task<void> task_promise<void>::get_return_object() noexcept {
    auto h = std::coroutine_handle<task_promise<void>>::from_promise(*this);
#if CORIO_DEBUG
    record.know_frame(h.address());
#endif
    return task<void>(h);
}
} // namespace detail

} // namespace corio
