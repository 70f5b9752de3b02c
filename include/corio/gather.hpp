#pragma once
// gather (asyncio.gather), its settled form (return_exceptions=True) and race (first to
// finish wins). Children run concurrently and never outlive the awaiter.
#include <cstddef>
#include <exception>
#include <iterator>
#include <optional>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "corio/detail/child.hpp"
#include "corio/outcome.hpp"
#include "corio/task.hpp"

namespace corio {

namespace detail {

enum class group_mode { gather, settled, race };

/// Children in a tuple (variadic form) or a vector (range form) behave the same; these
/// visit either.
template <class... Ts, class F>
void for_each_child(std::tuple<child<Ts>...>& cs, F&& f) {
    std::apply([&](auto&... c) { (f(c), ...); }, cs);
}
template <class T, class F>
void for_each_child(std::vector<child<T>>& cs, F&& f) {
    for (auto& c : cs) f(c);
}

template <class... Ts>
std::size_t index_of(std::tuple<child<Ts>...>& cs, completion* c) {
    std::size_t i = 0, found = 0;
    for_each_child(cs, [&](auto& ch) {
        if (static_cast<completion*>(&ch) == c) found = i;
        ++i;
    });
    return found;
}
template <class T>
std::size_t index_of(std::vector<child<T>>& cs, completion* c) {
    return static_cast<std::size_t>(static_cast<child<T>*>(c) - cs.data());
}

/// The exception of the child that just finished (O(1) for ranges: gather of 10k children
/// must not scan its siblings per completion).
template <class... Ts>
std::exception_ptr exception_of(std::tuple<child<Ts>...>& cs, completion* c) {
    std::exception_ptr e;
    for_each_child(cs, [&](auto& ch) {
        if (static_cast<completion*>(&ch) == c) e = ch.result().exception();
    });
    return e;
}
template <class T>
std::exception_ptr exception_of(std::vector<child<T>>&, completion* c) {
    return static_cast<child<T>*>(c)->result().exception();
}

template <group_mode Mode, class Children>
class group_awaiter : protected child_group {
public:
    explicit group_awaiter(Children cs) : children_(std::move(cs)) {
        child_finished = thunk<child_group, &group_awaiter::on_child_finished>;
        cancel_children = thunk<child_group, &group_awaiter::cancel_all>;
    }
    group_awaiter(group_awaiter&&) = default;

    bool await_ready() const noexcept { return count() == 0; }

    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
        return begin(h, count(), [this] {
            for_each_child(children_, [this](auto& c) { c.start(this); });
        });
    }

protected:
    std::size_t count() const noexcept {
        if constexpr (requires { children_.size(); })
            return children_.size();
        else
            return std::tuple_size_v<Children>;
    }

    void check() {
        throw_if_cancelled();
        if (first_error_) std::rethrow_exception(first_error_);
    }

    Children children_;
    std::exception_ptr first_error_;
    std::size_t winner_ = ~std::size_t(0);

private:
    friend struct dispatch;
    void on_child_finished(completion* c) noexcept {
        if constexpr (Mode == group_mode::race) {
            if (winner_ != ~std::size_t(0) || parent_cancelled) return;
            winner_ = index_of(children_, c);
            cancel_all();
        } else if constexpr (Mode == group_mode::gather) {
            if (first_error_ || parent_cancelled) return;
            std::exception_ptr e = exception_of(children_, c);
            if (!e) return;
            first_error_ = std::move(e);
            cancel_all();
        }
    }
    void cancel_all() noexcept {
        for_each_child(children_, [](auto& c) { c.cancel(); });
    }
};

template <group_mode Mode, class... Ts>
class [[nodiscard]] tuple_awaiter : public group_awaiter<Mode, std::tuple<child<Ts>...>> {
    using base = group_awaiter<Mode, std::tuple<child<Ts>...>>;

public:
    using base::base;

    auto await_resume() {
        if constexpr (Mode == group_mode::settled) {
            this->throw_if_cancelled();
            return std::apply([](auto&... c) { return std::tuple<outcome<Ts>...>(std::move(c.result())...); },
                              this->children_);
        } else if constexpr (Mode == group_mode::gather) {
            this->check();
            return std::apply(
                [](auto&... c) { return std::tuple<value_or_void_value<Ts>...>(take_value(c)...); },
                this->children_);
        } else {
            this->throw_if_cancelled();
            return take_winner(std::index_sequence_for<Ts...>{});
        }
    }

private:
    template <std::size_t... Is>
    std::variant<value_or_void_value<Ts>...> take_winner(std::index_sequence<Is...>) {
        std::optional<std::variant<value_or_void_value<Ts>...>> out;
        ((this->winner_ == Is
              ? (void)out.emplace(std::in_place_index<Is>, take_value(std::get<Is>(this->children_)))
              : (void)0),
         ...);
        return std::move(*out);
    }
};

template <group_mode Mode, class T>
class [[nodiscard]] vector_awaiter : public group_awaiter<Mode, std::vector<child<T>>> {
    using base = group_awaiter<Mode, std::vector<child<T>>>;

public:
    using base::base;

    auto await_resume() {
        if constexpr (Mode == group_mode::settled) {
            this->throw_if_cancelled();
            std::vector<outcome<T>> out;
            out.reserve(this->children_.size());
            for (auto& c : this->children_) out.push_back(std::move(c.result()));
            return out;
        } else if constexpr (Mode == group_mode::gather) {
            this->check();
            if constexpr (std::is_void_v<T>) {
                return;
            } else {
                std::vector<T> out;
                out.reserve(this->children_.size());
                for (auto& c : this->children_) out.push_back(std::move(c.result()).value());
                return out;
            }
        } else {
            this->throw_if_cancelled();
            if (this->children_.empty()) throw std::invalid_argument("corio: race of no tasks");
            std::size_t w = this->winner_;
            return std::pair<std::size_t, value_or_void_value<T>>(w, take_value(this->children_[w]));
        }
    }
};

template <group_mode Mode, class Range>
auto range_awaiter(Range&& tasks) {
    using A = std::remove_cvref_t<decltype(*std::begin(tasks))>;
    using T = typename task_for_t<A>::value_type;
    std::vector<child<T>> cs;
    if constexpr (requires { std::size(tasks); }) cs.reserve(std::size(tasks));
    for (auto&& t : tasks) cs.emplace_back(into_task(std::move(t)));
    return vector_awaiter<Mode, T>(std::move(cs));
}

template <class R>
concept task_range = requires(R& r) {
    std::begin(r);
    std::end(r);
} && !requires(R& r) { std::declval<R&>().operator co_await(); };

template <group_mode Mode, class... As>
auto tuple_group(As&&... work) {
    return tuple_awaiter<Mode, typename task_for_t<As>::value_type...>(
        std::tuple<child<typename task_for_t<As>::value_type>...>(
            child<typename task_for_t<As>::value_type>(into_task(std::forward<As>(work)))...));
}

template <class... As>
concept variadic_group = sizeof...(As) > 0 && !(sizeof...(As) == 1 && (task_range<As> && ...));

} // namespace detail

/// auto [a, b] = co_await gather(f(), g());   -- tuple; a void child gives void_value.
/// If a child throws, the others are cancelled and awaited, then the first error rethrows.
template <class... As>
    requires detail::variadic_group<As...>
auto gather(As&&... work) {
    return detail::tuple_group<detail::group_mode::gather>(std::forward<As>(work)...);
}

/// co_await gather(vector_of_tasks) -> std::vector<T> (void for void tasks).
template <detail::task_range R>
auto gather(R&& tasks) {
    return detail::range_awaiter<detail::group_mode::gather>(std::forward<R>(tasks));
}

/// Every child runs to the end; each gives its value or its exception (never throws
/// for a child's failure).
template <class... As>
    requires detail::variadic_group<As...>
auto gather_settled(As&&... work) {
    return detail::tuple_group<detail::group_mode::settled>(std::forward<As>(work)...);
}
template <detail::task_range R>
auto gather_settled(R&& tasks) {
    return detail::range_awaiter<detail::group_mode::settled>(std::forward<R>(tasks));
}

/// The first child to finish wins (its exception, if it failed, is rethrown); the others
/// are cancelled and awaited. Variadic: std::variant whose index() names the winner.
/// Range: std::pair{index, value}.
template <class... As>
    requires detail::variadic_group<As...>
auto race(As&&... work) {
    return detail::tuple_group<detail::group_mode::race>(std::forward<As>(work)...);
}
template <detail::task_range R>
auto race(R&& tasks) {
    return detail::range_awaiter<detail::group_mode::race>(std::forward<R>(tasks));
}

} // namespace corio
