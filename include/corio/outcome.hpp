#pragma once
// outcome<T>: a value or an exception. What a task stores, and what the settled form of
// gather returns per child (asyncio's return_exceptions=True).
#include <exception>
#include <memory>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

namespace corio {

/// What a void child contributes to gather's tuple.
using void_value = std::monostate;

namespace detail {
template <class T>
struct outcome_filler;
}

template <class T>
class outcome {
    using stored = std::conditional_t<std::is_reference_v<T>,
                                      std::add_pointer_t<std::remove_reference_t<T>>, T>;

public:
    outcome() noexcept {}
    outcome(outcome&& o) noexcept(std::is_nothrow_move_constructible_v<stored>) { take(std::move(o)); }
    outcome& operator=(outcome&& o) noexcept(std::is_nothrow_move_constructible_v<stored>) {
        if (this != &o) {
            reset();
            take(std::move(o));
        }
        return *this;
    }
    ~outcome() { reset(); }

    template <class U>
    void set_value(U&& v) {
        reset();
        emplace_value(std::forward<U>(v));
    }
    void set_exception(std::exception_ptr e) noexcept {
        reset();
        ::new (static_cast<void*>(&error_)) std::exception_ptr(std::move(e));
        state_ = state::error;
    }

    bool has_value() const noexcept { return state_ == state::value; }
    bool has_exception() const noexcept { return state_ == state::error; }
    bool empty() const noexcept { return state_ == state::empty; }
    explicit operator bool() const noexcept { return has_value(); }

    std::exception_ptr exception() const noexcept {
        return state_ == state::error ? error_ : std::exception_ptr();
    }

    /// The value, or rethrows the exception.
    decltype(auto) value() & {
        check();
        if constexpr (std::is_reference_v<T>)
            return static_cast<T>(*value_);
        else
            return static_cast<T&>(value_);
    }
    decltype(auto) value() && {
        check();
        if constexpr (std::is_reference_v<T>)
            return static_cast<T>(*value_);
        else
            return static_cast<T&&>(value_);
    }

private:
    friend struct detail::outcome_filler<T>;
    enum class state : unsigned char { empty, value, error };

    /// Only on an empty outcome.
    template <class U>
    void emplace_value(U&& v) {
        if constexpr (std::is_reference_v<T>)
            ::new (static_cast<void*>(&value_)) stored(std::addressof(v));
        else
            ::new (static_cast<void*>(&value_)) stored(std::forward<U>(v));
        state_ = state::value;
    }

    /// The throwing part stays out of line, so reading a value inlines to a test.
    void check() const {
        if (state_ != state::value) [[unlikely]]
            fail();
    }
    [[noreturn, gnu::noinline, gnu::cold]] void fail() const {
        if (state_ == state::error) std::rethrow_exception(error_);
        throw std::logic_error("corio: outcome has no value");
    }
    void take(outcome&& o) {
        if (o.state_ == state::value)
            ::new (static_cast<void*>(&value_)) stored(std::move(o.value_));
        else if (o.state_ == state::error)
            ::new (static_cast<void*>(&error_)) std::exception_ptr(std::move(o.error_));
        state_ = o.state_;
    }
    void reset() noexcept {
        if (state_ == state::value)
            value_.~stored();
        else if (state_ == state::error)
            error_.~exception_ptr();
        state_ = state::empty;
    }

    union {
        stored value_;
        std::exception_ptr error_;
    };
    state state_ = state::empty;
};

template <>
class outcome<void> {
public:
    void set_value() noexcept { error_ = nullptr, state_ = state::value; }
    void set_exception(std::exception_ptr e) noexcept { error_ = std::move(e), state_ = state::error; }
    bool has_value() const noexcept { return state_ == state::value; }
    bool has_exception() const noexcept { return state_ == state::error; }
    bool empty() const noexcept { return state_ == state::empty; }
    explicit operator bool() const noexcept { return has_value(); }
    std::exception_ptr exception() const noexcept { return error_; }
    void value() const {
        if (state_ == state::error) std::rethrow_exception(error_);
        if (state_ == state::empty) throw std::logic_error("corio: outcome has no value");
    }

private:
    friend struct detail::outcome_filler<void>;
    enum class state : unsigned char { empty, value, error };
    std::exception_ptr error_;
    state state_ = state::empty;
};

namespace detail {
/// For a task returning straight into its awaiter's outcome, known to be empty: skips the
/// reset that set_value must do.
template <class T>
struct outcome_filler {
    template <class U>
    static void fill(outcome<T>& o, U&& v) {
        o.emplace_value(std::forward<U>(v));
    }
};
template <>
struct outcome_filler<void> {
    static void fill(outcome<void>& o) noexcept { o.state_ = outcome<void>::state::value; }
};
} // namespace detail

} // namespace corio
