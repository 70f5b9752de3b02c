#pragma once
// callback<R(Args...)>: what the loop keeps of a user's callable (the exception handler,
// call_soon's function). std::function would do, but <functional> is one of the heaviest
// standard headers and every corio program includes the loop; this is the small part of
// it the loop needs. Copying works when the stored callable can be copied.
#include <cstddef>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace corio::detail {

template <class Signature>
class callback;

template <class R, class... Args>
class callback<R(Args...)> {
public:
    callback() noexcept = default;
    callback(std::nullptr_t) noexcept {}

    template <class F>
        requires(!std::is_same_v<std::remove_cvref_t<F>, callback> &&
                 !std::is_same_v<std::remove_cvref_t<F>, std::nullptr_t> &&
                 std::is_invocable_r_v<R, std::decay_t<F>&, Args...>)
    callback(F&& f) : obj_(new std::decay_t<F>(std::forward<F>(f))), ops_(&ops_for<std::decay_t<F>>) {}

    callback(callback&& o) noexcept : obj_(std::exchange(o.obj_, nullptr)), ops_(std::exchange(o.ops_, nullptr)) {}
    callback(const callback& o) : obj_(o.obj_ ? o.ops_->clone(o.obj_) : nullptr), ops_(o.ops_) {}
    callback& operator=(callback o) noexcept {
        std::swap(obj_, o.obj_);
        std::swap(ops_, o.ops_);
        return *this;
    }
    ~callback() {
        if (obj_) ops_->destroy(obj_);
    }

    explicit operator bool() const noexcept { return obj_ != nullptr; }

    R operator()(Args... args) const {
        if (!obj_) throw std::logic_error("corio: call of an empty callback");
        return ops_->invoke(obj_, std::forward<Args>(args)...);
    }

private:
    struct ops {
        R (*invoke)(void*, Args&&...);
        void (*destroy)(void*) noexcept;
        void* (*clone)(const void*);
    };
    template <class F>
    static constexpr ops ops_for{
        [](void* p, Args&&... as) -> R { return static_cast<R>((*static_cast<F*>(p))(std::forward<Args>(as)...)); },
        [](void* p) noexcept { delete static_cast<F*>(p); },
        [](const void* p) -> void* {
            if constexpr (std::is_copy_constructible_v<F>)
                return new F(*static_cast<const F*>(p));
            else
                throw std::logic_error("corio: copy of a callback holding a move-only callable");
        },
    };

    void* obj_ = nullptr;
    const ops* ops_ = nullptr;
};

} // namespace corio::detail
