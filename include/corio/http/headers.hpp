#pragma once
// An ordered list of header fields: lookup ignores case, repeated fields are all kept,
// in the order they arrived (Set-Cookie and friends cannot be merged).
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "corio/http/url.hpp"

namespace corio::http {

namespace detail {

inline bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (to_lower(a[i]) != to_lower(b[i])) return false;
    return true;
}

/// RFC 9110 §5.6.2 tchar.
inline bool is_tchar(unsigned char c) noexcept {
    return is_alpha(c) || is_digit(c) ||
           std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}
inline bool is_token(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (char c : s)
        if (!is_tchar(static_cast<unsigned char>(c))) return false;
    return true;
}
/// field-vchar, SP and HTAB; obs-text (>= 0x80) is allowed, every other control is not.
inline bool is_field_value(std::string_view s) noexcept {
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
    }
    return true;
}
inline std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

/// Calls f(item) for each non-empty element of a comma-separated list (RFC 9110 §5.6.1).
template <class F>
void for_each_list_item(std::string_view s, F&& f) {
    while (true) {
        auto comma = s.find(',');
        std::string_view item = trim_ows(s.substr(0, comma));
        if (!item.empty()) f(item);
        if (comma == std::string_view::npos) return;
        s.remove_prefix(comma + 1);
    }
}

} // namespace detail

class headers {
public:
    using field = std::pair<std::string, std::string>;
    using const_iterator = std::vector<field>::const_iterator;

    headers() = default;
    headers(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
        for (auto& [n, v] : fields) add(n, v);
    }

    /// Appends a field. A name that is not a token or a value with CR, LF or another
    /// control character throws std::invalid_argument: no header injection.
    void add(std::string_view name, std::string_view value) {
        check(name, value);
        fields_.emplace_back(std::string(name), std::string(detail::trim_ows(value)));
    }

    /// Replaces every field with this name by one, at the place of the first.
    void set(std::string_view name, std::string_view value) {
        check(name, value);
        bool placed = false;
        for (auto it = fields_.begin(); it != fields_.end();) {
            if (!detail::iequals(it->first, name)) {
                ++it;
            } else if (!placed) {
                it->second = std::string(detail::trim_ows(value));
                placed = true;
                ++it;
            } else {
                it = fields_.erase(it);
            }
        }
        if (!placed) fields_.emplace_back(std::string(name), std::string(detail::trim_ows(value)));
    }

    std::size_t erase(std::string_view name) {
        return std::erase_if(fields_, [&](const field& f) { return detail::iequals(f.first, name); });
    }

    bool contains(std::string_view name) const noexcept { return find(name) != fields_.end(); }

    std::size_t count(std::string_view name) const noexcept {
        std::size_t n = 0;
        for (auto& f : fields_) n += detail::iequals(f.first, name);
        return n;
    }

    /// The first field with this name.
    std::optional<std::string_view> get(std::string_view name) const noexcept {
        auto it = find(name);
        if (it == fields_.end()) return std::nullopt;
        return std::string_view(it->second);
    }
    std::string get(std::string_view name, std::string_view fallback) const {
        auto v = get(name);
        return std::string(v ? *v : fallback);
    }

    std::vector<std::string_view> get_all(std::string_view name) const {
        std::vector<std::string_view> out;
        for (auto& f : fields_)
            if (detail::iequals(f.first, name)) out.emplace_back(f.second);
        return out;
    }

    /// True when a comma-separated field (Connection, Transfer-Encoding...) lists `token`.
    bool has_token(std::string_view name, std::string_view token) const noexcept {
        bool found = false;
        for (auto& f : fields_)
            if (detail::iequals(f.first, name))
                detail::for_each_list_item(f.second, [&](std::string_view item) {
                    found = found || detail::iequals(item, token);
                });
        return found;
    }

    std::size_t size() const noexcept { return fields_.size(); }
    bool empty() const noexcept { return fields_.empty(); }
    void clear() noexcept { fields_.clear(); }
    const_iterator begin() const noexcept { return fields_.begin(); }
    const_iterator end() const noexcept { return fields_.end(); }
    const field& operator[](std::size_t i) const noexcept { return fields_[i]; }

    /// For the parser, which has validated the field already.
    void append_unchecked(std::string name, std::string value) {
        fields_.emplace_back(std::move(name), std::move(value));
    }
    std::string& last_value() noexcept { return fields_.back().second; }

    friend bool operator==(const headers&, const headers&) = default;

private:
    const_iterator find(std::string_view name) const noexcept {
        for (auto it = fields_.begin(); it != fields_.end(); ++it)
            if (detail::iequals(it->first, name)) return it;
        return fields_.end();
    }
    static void check(std::string_view name, std::string_view value) {
        if (!detail::is_token(name))
            throw std::invalid_argument("corio::http: invalid header name " + detail::excerpt(name));
        if (!detail::is_field_value(value))
            throw std::invalid_argument("corio::http: invalid character in the value of header '" +
                                        std::string(name) + "': " + detail::excerpt(value));
    }

    std::vector<field> fields_;
};

} // namespace corio::http
