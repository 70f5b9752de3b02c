#pragma once
// invoke(f, args...): std::invoke without <functional> (one of the heaviest standard
// headers, and spawn/gather/to_thread are in every program). Handles what std::invoke
// does for callables and pointers to members, with the object given by reference, by
// pointer (or smart pointer) or in a reference_wrapper.
#include <type_traits>
#include <utility>

namespace corio::detail {

template <class T>
concept unwrappable_reference = requires(T& t) { t.get(); typename T::type; };

template <class C, class Obj>
decltype(auto) member_object(Obj&& obj) {
    if constexpr (std::is_base_of_v<C, std::remove_cvref_t<Obj>>)
        return std::forward<Obj>(obj);
    else if constexpr (unwrappable_reference<std::remove_cvref_t<Obj>>)
        return obj.get();
    else
        return *std::forward<Obj>(obj);
}

template <class M, class C, class Obj, class... Args>
decltype(auto) invoke_member(M C::*pm, Obj&& obj, Args&&... args) {
    if constexpr (std::is_function_v<M>)
        return (member_object<C>(std::forward<Obj>(obj)).*pm)(std::forward<Args>(args)...);
    else
        return member_object<C>(std::forward<Obj>(obj)).*pm;
}

template <class F, class... Args>
decltype(auto) invoke(F&& f, Args&&... args) {
    if constexpr (std::is_member_pointer_v<std::remove_cvref_t<F>>)
        return invoke_member(f, std::forward<Args>(args)...);
    else
        return std::forward<F>(f)(std::forward<Args>(args)...);
}

} // namespace corio::detail
