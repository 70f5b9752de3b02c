#pragma once
// Happy eyeballs (RFC 8305, asyncio's happy_eyeballs_delay and interleave): connection
// attempts to several addresses, staggered. Attempt i+1 starts once attempt i has run
// alone for the delay, or at once when an attempt fails; the first to connect wins and
// the others are cancelled, which closes their sockets. The attempts are the children of
// one child_group (as in race), so none outlives the open_connection that started it and
// cancelling open_connection cancels them all.
#include "corio/detail/chrono.hpp"
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "corio/detail/child.hpp"
#include "corio/event.hpp"
#include "corio/gather.hpp"
#include "corio/net/address.hpp"
#include "corio/net/connect_socket.hpp"
#include "corio/net/stream.hpp"
#include "corio/task.hpp"
#include "corio/time.hpp"

namespace corio {

/// How open_connection tries a name with several addresses.
struct connect_options {
    /// RFC 8305's connection attempt delay: how long an attempt runs alone before the
    /// next address is tried alongside it. nullopt: one address after another, each to
    /// its end (asyncio's default, happy_eyeballs_delay=None). Zero starts the next
    /// attempt on the next loop turn.
    std::optional<std::chrono::nanoseconds> happy_eyeballs_delay = std::chrono::milliseconds(250);
    /// asyncio's interleave: the first `interleave` addresses of the first family, then
    /// one of each family in turn. 0 keeps the resolver's order.
    std::size_t interleave = 1;
};

namespace detail {

/// asyncio's _interleave_addrinfos: group by family in order of first appearance, take
/// `first_count - 1` extra from the first family, then alternate.
inline std::vector<endpoint> interleave_families(std::vector<endpoint> addrs, std::size_t first_count) {
    if (first_count == 0 || addrs.size() < 2) return addrs;
    std::vector<std::vector<endpoint>> families;
    std::vector<int> keys;
    for (endpoint& e : addrs) {
        int key = e.is_local() ? 0 : e.is_v4() ? 4 : 6;
        std::size_t i = 0;
        while (i < keys.size() && keys[i] != key) ++i;
        if (i == keys.size()) {
            keys.push_back(key);
            families.emplace_back();
        }
        families[i].push_back(std::move(e));
    }
    std::vector<endpoint> out;
    out.reserve(addrs.size());
    std::vector<std::size_t> next(families.size(), 0);
    for (; next[0] + 1 < first_count && next[0] < families[0].size(); ++next[0])
        out.push_back(std::move(families[0][next[0]]));
    for (bool more = true; more;) {
        more = false;
        for (std::size_t f = 0; f < families.size(); ++f) {
            if (next[f] < families[f].size()) {
                out.push_back(std::move(families[f][next[f]++]));
                more = true;
            }
        }
    }
    return out;
}

/// Shared by the attempts: started[i] is set when attempt i begins, kick[i] when an
/// attempt fails while attempt i is the newest (it lets attempt i+1 start at once).
struct stagger_state {
    std::vector<endpoint> addrs;
    std::chrono::nanoseconds delay;
    std::unique_ptr<event[]> started, kick;
    std::vector<int> errors; // per address; 0 while not failed
    std::size_t newest = 0;

    stagger_state(std::vector<endpoint> a, std::chrono::nanoseconds d)
        : addrs(std::move(a)), delay(d), started(new event[addrs.size()]), kick(new event[addrs.size()]),
          errors(addrs.size(), 0) {}
};

inline task<void> wait_event(event& e) { co_await e.wait(); }

/// An empty stream when this address failed (the errno is in st.errors[i]).
inline task<stream> stagger_attempt(stagger_state& st, std::size_t i) {
    if (i > 0) {
        co_await st.started[i - 1].wait();
        auto previous_failed = wait_event(st.kick[i - 1]);
        (void)co_await race(std::move(previous_failed), sleep(st.delay));
    }
    st.newest = i;
    st.started[i].set();
    sock_addr sa = to_sock_addr(st.addrs[i]);
    int err = 0;
    std::shared_ptr<stream_core> core;
    try {
        core = std::make_shared<stream_core>(open_stream_socket(sa.family()), sa.family());
    } catch (const std::system_error& e) { // out of descriptors: this address fails
        err = e.code().value();
    }
    if (!err) err = co_await connect_socket(*core, sa);
    if (err == 0) {
        core->set_addresses(st.addrs[i]);
        co_return stream(std::move(core));
    }
    st.errors[i] = err;
    st.kick[st.newest].set();
    co_return stream();
}

/// The group: the first attempt that returns a connected stream wins and its siblings
/// are cancelled; an attempt that throws (other than by being cancelled) ends it too.
class [[nodiscard]] stagger_awaiter : child_group {
public:
    explicit stagger_awaiter(std::vector<child<stream>> cs) : children_(std::move(cs)) {
        child_finished = thunk<child_group, &stagger_awaiter::on_child_finished>;
        cancel_children = thunk<child_group, &stagger_awaiter::cancel_all>;
    }
    stagger_awaiter(stagger_awaiter&&) = default;

    bool await_ready() const noexcept { return children_.empty(); }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
        return begin(h, children_.size(), [this] {
            for (auto& c : children_) c.start(this);
        });
    }
    /// The winner, or an empty stream when every attempt failed.
    stream await_resume() {
        throw_if_cancelled();
        if (winner_ == none) return stream();
        outcome<stream>& r = children_[winner_].result();
        if (r.has_exception()) std::rethrow_exception(r.exception());
        return std::move(r).value();
    }

private:
    static constexpr std::size_t none = ~std::size_t(0);

    friend struct dispatch;
    void on_child_finished(completion* c) noexcept {
        if (winner_ != none || parent_cancelled) return;
        auto* ch = static_cast<child<stream>*>(c);
        outcome<stream>& r = ch->result();
        if (!r.has_exception() && !r.value().valid()) return; // this address failed
        winner_ = static_cast<std::size_t>(ch - children_.data());
        cancel_all();
    }
    void cancel_all() noexcept {
        for (auto& c : children_) c.cancel();
    }

    std::vector<child<stream>> children_;
    std::size_t winner_ = none;
};

inline task<stream> connect_staggered(std::vector<endpoint> addrs, std::chrono::nanoseconds delay,
                                      std::string& failures, int& last_error) {
    stagger_state st(std::move(addrs), delay);
    std::vector<child<stream>> attempts;
    attempts.reserve(st.addrs.size());
    for (std::size_t i = 0; i < st.addrs.size(); ++i) attempts.emplace_back(stagger_attempt(st, i));
    stream s = co_await stagger_awaiter(std::move(attempts));
    if (s) co_return s;
    for (std::size_t i = 0; i < st.addrs.size(); ++i) {
        if (!failures.empty()) failures += "; ";
        failures += st.addrs[i].to_string() + ": " + std::system_category().message(st.errors[i]);
        last_error = st.errors[i];
    }
    co_return stream();
}

} // namespace detail

} // namespace corio
