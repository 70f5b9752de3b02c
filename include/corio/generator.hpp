#pragma once
// generator<T>: an async generator (Python's `async def` with `yield`, consumed with
// `async for`). Its body can co_await anything a task can, and co_yield values:
//
//     corio::generator<int> ticks(int n) {
//         for (int i = 0; i < n; ++i) {
//             co_await corio::sleep(1s);
//             co_yield i;
//         }
//     }
//     auto g = ticks(3);
//     while (int* v = co_await g.next()) use(*v);
#include <coroutine>
#include <cstddef>
#include <exception>
#include <memory>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "corio/detail/frame_alloc.hpp"
#include "corio/detail/operation.hpp"

namespace corio {

/// A lazy coroutine producing a sequence of T. Nothing runs until the first next();
/// each next() runs the body until its next co_yield (or its end). The body runs on
/// the cancellation slot of the task awaiting next(), as an awaited task does: cancelling
/// that task cancels whatever the body awaits, and the cancelled_error, like any
/// exception leaving the body, is thrown from next(), after which the generator is
/// finished. Destroying the generator (or the task owning it) destroys its frame, with
/// the body's locals, wherever the body is. `T` may be a reference type: the body then
/// yields lvalues of it and next() points at them.
template <class T>
class generator {
public:
    using value_type = std::remove_cvref_t<T>;
    /// What next() gives: a pointer to the yielded object, valid until the next call to
    /// next() or the generator's end; null once the body has finished. `std::move(*p)`
    /// takes a yielded value out (move-only T).
    using pointer = std::add_pointer_t<std::remove_reference_t<T>>;

    struct promise_type : detail::promise_base {
        pointer value = nullptr;
        std::exception_ptr error;
        std::coroutine_handle<> consumer; // the task in next(), once the body suspended
        bool inline_run = false; // next() is still inside await_suspend: it reads the value itself

        // Where the body suspends at a co_yield or its end: straight back into next()'s
        // await_suspend when it is still running (no resumption, so a million synchronous
        // yields never deepen the stack, with or without tail calls); otherwise on to the
        // waiting consumer by symmetric transfer.
        struct handoff {
            bool await_ready() const noexcept { return false; }
            std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
                promise_type& p = h.promise();
                if (p.inline_run) return std::noop_coroutine();
                return std::exchange(p.consumer, {});
            }
            void await_resume() const noexcept {}
        };
        // A copy of a yielded lvalue, kept in the frame (this awaiter is a temporary of
        // the co_yield expression) until the body resumes.
        struct copied : handoff {
            value_type copy;
            std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
                h.promise().value = std::addressof(copy);
                return handoff::await_suspend(h);
            }
        };

        generator get_return_object() noexcept {
            return generator(std::coroutine_handle<promise_type>::from_promise(*this));
        }
        std::suspend_always initial_suspend() const noexcept { return {}; }
        handoff final_suspend() noexcept {
            value = nullptr;
            return {};
        }
        void unhandled_exception() noexcept { error = std::current_exception(); }
        void return_void() noexcept {}

        // The yielded object lives until the body resumes (a temporary lives to the end of
        // the full co_yield expression), so the consumer reads it in place: no copy, no
        // allocation.
        handoff yield_value(std::remove_reference_t<T>& v) noexcept
            requires std::is_reference_v<T>
        {
            value = std::addressof(v);
            return {};
        }
        handoff yield_value(std::remove_reference_t<T>&& v) noexcept
            requires(!std::is_lvalue_reference_v<T>)
        {
            value = std::addressof(v);
            return {};
        }
        // An lvalue of a value type is copied (std::move it to avoid that).
        template <class U = T>
        copied yield_value(const value_type& v)
            requires(!std::is_reference_v<U> && std::is_copy_constructible_v<value_type>)
        {
            return copied{{}, v};
        }

        static void* operator new(std::size_t n) { return detail::allocate_frame(n); }
        static void* operator new(std::size_t n, std::align_val_t a) { return detail::allocate_frame(n, a); }
        static void operator delete(void* p, std::size_t n) noexcept { detail::deallocate_frame(p, n); }
        static void operator delete(void* p, std::size_t n, std::align_val_t a) noexcept {
            detail::deallocate_frame(p, n, a);
        }
    };
    using handle_type = std::coroutine_handle<promise_type>;

    generator() noexcept = default;
    explicit generator(handle_type h) noexcept : h_(h) {}
    generator(generator&& o) noexcept : h_(std::exchange(o.h_, {})) {}
    generator& operator=(generator&& o) noexcept {
        if (this != &o) {
            if (h_) h_.destroy();
            h_ = std::exchange(o.h_, {});
        }
        return *this;
    }
    ~generator() {
        if (h_) h_.destroy();
    }

    /// Whether the body has finished (returned or thrown).
    bool done() const noexcept { return !h_ || h_.done(); }

    class [[nodiscard]] next_awaiter {
    public:
        explicit next_awaiter(handle_type h) noexcept : h_(h) {}
        bool await_ready() const noexcept { return !h_ || h_.done(); }
        /// The body runs inside this call. If it yields (or ends) before suspending, the
        /// consumer continues in place; otherwise it suspends and the body's next yield
        /// resumes it.
        template <class P>
        bool await_suspend(std::coroutine_handle<P> c) {
            promise_type& p = h_.promise();
            if (p.consumer) throw std::logic_error("corio: generator::next() while another next() waits");
            p.slot = detail::slot_of(c);
            p.value = nullptr;
            p.inline_run = true;
            h_.resume();
            p.inline_run = false;
            if (p.value || h_.done()) return false;
            p.consumer = c;
            return true;
        }
        /// The yielded object, or null at the end; rethrows what the body threw (once).
        pointer await_resume() {
            if (!h_) return nullptr;
            promise_type& p = h_.promise();
            if (p.error) std::rethrow_exception(std::exchange(p.error, nullptr));
            return p.value;
        }

    private:
        handle_type h_;
    };

    /// Runs the body to its next co_yield: `while (auto* v = co_await g.next())`.
    /// Throws std::logic_error if another next() on it is still waiting.
    next_awaiter next() noexcept { return next_awaiter(h_); }

private:
    handle_type h_;
};

} // namespace corio
