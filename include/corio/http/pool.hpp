#pragma once
// The HTTP client's options and its connection pool: connections kept alive per
// host:port, the permits that bound them, and the lease a request holds on one.
#include <algorithm>
#include <cstddef>
#include <deque>
#include <iterator>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include "corio/detail/chrono.hpp"
#include "corio/detail/intrusive_list.hpp"
#include "corio/detail/timer_heap.hpp"
#include "corio/http/headers.hpp"
#include "corio/http/response_parser.hpp"
#include "corio/loop.hpp"
#include "corio/net/stream.hpp"
#include "corio/sync.hpp"
#include "corio/time.hpp"

namespace corio::http {

struct client_options {
    std::size_t max_connections_per_host = 10; // in use plus idle, per host:port
    std::size_t max_idle_connections = 100;    // idle ones over all hosts
    std::chrono::milliseconds connect_timeout{30'000};   // each connection attempt; 0: none
    // One deadline from request() to the end of the body, redirects included (aiohttp's
    // total): a long download needs a larger one, or 0 for none.
    std::chrono::milliseconds total_timeout{300'000};
    /// The longest wait for the next bytes of a response (aiohttp's sock_read), for the
    /// status line and headers and for the body, read() and read_chunk() alike; 0: none.
    /// Exceeding it throws http::read_timeout (a corio::timeout_error) and closes the
    /// connection, as cancelling the request or the read does (cancelled_error). It
    /// bounds a silent server, not a slow one: total_timeout does that.
    std::chrono::milliseconds read_timeout{60'000};
    /// How long a connection may sit idle in the pool: past it, it is closed (by a timer
    /// on the loop, whether or not the client is used again) and never reused; 0: no limit.
    std::chrono::milliseconds keepalive_timeout{15'000};
    bool follow_redirects = true;
    std::size_t max_redirects = 10;
    std::size_t max_body_size = 256 * 1024 * 1024; // read() and text(); read_chunk() streams
    std::size_t chunk_size = 64 * 1024;            // read_chunk()'s default maximum
    std::string user_agent = "corio-http/0.1";
    http::headers headers;                         // sent with every request
    parser_limits limits;
};

namespace detail {

using clock = std::chrono::steady_clock;

struct connection {
    connection(corio::stream st, const parser_limits& l) : s(std::move(st)), parser(l) {}
    corio::stream s;
    response_parser parser;
    std::string buf; // read, not yet parsed: buf[off, size)
    std::size_t off = 0;
    std::size_t served = 0; // responses completed on it
    clock::time_point idle_since{};
};

struct host_pool {
    explicit host_pool(std::size_t limit) : slots(limit) {}
    corio::semaphore slots; // a permit per connection in use; idle ones hold none
    std::deque<std::unique_ptr<connection>> idle; // oldest first
    std::size_t users = 0;  // requests holding or awaiting a permit: keeps the entry alive
};

struct pool_state;

/// Closes a client's idle connections as they pass keepalive_timeout: one timer per client,
/// due when its oldest idle connection expires.
struct idle_reaper : corio::detail::timer_node, corio::detail::list_hook {
    pool_state* owner = nullptr;
    event_loop* loop = nullptr; // where the timer is armed, while it is

    void expire() noexcept;
};

/// Disarms the reapers still armed when their loop ends, so a client that outlives run()
/// never touches the loop again.
class idle_reapers final : public corio::detail::loop_service {
public:
    explicit idle_reapers(event_loop&) noexcept {}
    ~idle_reapers() override { shutdown(); }
    void shutdown() noexcept override {
        while (!armed.empty()) {
            idle_reaper& r = armed.pop_front();
            r.loop->cancel_timer(&r);
            r.loop = nullptr;
        }
    }
    corio::detail::intrusive_list<idle_reaper> armed;
};

struct pool_state {
    explicit pool_state(client_options o) : opts(std::move(o)) {
        reaper.owner = this;
        reaper.fire = corio::detail::thunk<corio::detail::timer_node, &idle_reaper::expire>;
    }
    ~pool_state() { disarm(); }
    pool_state(const pool_state&) = delete;
    pool_state& operator=(const pool_state&) = delete;

    client_options opts;
    std::unordered_map<std::string, std::unique_ptr<host_pool>> hosts;
    std::size_t idle_total = 0;
    std::size_t opened = 0;
    bool closed = false;
    idle_reaper reaper;

    host_pool& enter(const std::string& key) {
        auto& p = hosts[key];
        if (!p) p = std::make_unique<host_pool>(std::max<std::size_t>(1, opts.max_connections_per_host));
        ++p->users;
        return *p;
    }
    void leave(const std::string& key, host_pool& p) noexcept {
        if (--p.users == 0 && p.idle.empty()) hosts.erase(key);
    }

    bool expired(const connection& c, clock::time_point now) const noexcept {
        return opts.keepalive_timeout.count() > 0 && now - c.idle_since >= opts.keepalive_timeout;
    }

    /// The most recently used idle connection that is still fit for a request.
    std::unique_ptr<connection> take_idle(host_pool& p) {
        auto now = corio::now();
        while (!p.idle.empty()) {
            std::unique_ptr<connection> c = std::move(p.idle.back());
            p.idle.pop_back();
            --idle_total;
            if (!expired(*c, now) && c->s.idle_and_open()) return c;
        } // the others are closed as they go out of scope
        return nullptr;
    }

    void add_idle(host_pool& p, std::unique_ptr<connection> c) {
        c->idle_since = corio::now();
        p.idle.push_back(std::move(c));
        ++idle_total;
        while (idle_total > opts.max_idle_connections) drop_oldest_idle();
        if (!reaper.loop) arm(); // armed already: for an older connection, so earlier
    }

    /// The host whose front (oldest) idle connection is the oldest of all.
    auto oldest_idle() noexcept {
        auto oldest = hosts.end();
        for (auto it = hosts.begin(); it != hosts.end(); ++it)
            if (!it->second->idle.empty() &&
                (oldest == hosts.end() ||
                 it->second->idle.front()->idle_since < oldest->second->idle.front()->idle_since))
                oldest = it;
        return oldest;
    }

    void drop_oldest_idle() noexcept {
        auto oldest = oldest_idle();
        if (oldest == hosts.end()) return;
        oldest->second->idle.pop_front();
        --idle_total;
        if (oldest->second->users == 0 && oldest->second->idle.empty()) hosts.erase(oldest);
    }

    void close() noexcept {
        closed = true;
        disarm();
        for (auto it = hosts.begin(); it != hosts.end();) {
            idle_total -= it->second->idle.size();
            it->second->idle.clear();
            it = it->second->users == 0 ? hosts.erase(it) : std::next(it);
        }
    }

private:
    friend idle_reaper;
    /// Due when the oldest idle connection expires; not without idle connections, a limit
    /// or a running loop.
    void arm() {
        if (opts.keepalive_timeout.count() <= 0 || !corio::detail::current_loop_ptr) return;
        auto oldest = oldest_idle();
        if (oldest == hosts.end()) return;
        event_loop& loop = *corio::detail::current_loop_ptr;
        idle_reapers& reapers = loop.service<idle_reapers>();
        auto due = oldest->second->idle.front()->idle_since + opts.keepalive_timeout;
        loop.add_timer(&reaper, event_loop::to_ns(due));
        reaper.loop = &loop;
        reapers.armed.push_back(reaper);
    }

    void disarm() noexcept {
        if (!reaper.loop) return;
        reaper.loop->cancel_timer(&reaper);
        corio::detail::intrusive_list<idle_reaper>::erase(reaper);
        reaper.loop = nullptr;
    }

    void reap() noexcept {
        disarm(); // the loop has taken the timer off its heap already
        auto now = corio::now();
        for (auto it = hosts.begin(); it != hosts.end();) {
            auto& idle = it->second->idle;
            while (!idle.empty() && expired(*idle.front(), now)) {
                idle.pop_front();
                --idle_total;
            }
            it = it->second->users == 0 && idle.empty() ? hosts.erase(it) : std::next(it);
        }
        try {
            arm();
        } catch (...) { // no memory for the timer: expired ones are still never reused
        }
    }
};

inline void idle_reaper::expire() noexcept { owner->reap(); }

/// A permit of a host's pool, and the connection used under it. Ends by going back to the
/// pool (recycle) or by closing the connection (discard, also what destruction does).
class lease {
public:
    lease() = default;
    lease(std::shared_ptr<pool_state> st, std::string key, host_pool* p) noexcept
        : st_(std::move(st)), key_(std::move(key)), pool_(p) {}
    lease(lease&& o) noexcept
        : st_(std::move(o.st_)), key_(std::move(o.key_)), pool_(std::exchange(o.pool_, nullptr)),
          conn_(std::move(o.conn_)) {}
    lease& operator=(lease&& o) noexcept {
        if (this != &o) {
            discard();
            st_ = std::move(o.st_);
            key_ = std::move(o.key_);
            pool_ = std::exchange(o.pool_, nullptr);
            conn_ = std::move(o.conn_);
        }
        return *this;
    }
    ~lease() { discard(); }

    void attach(std::unique_ptr<connection> c) noexcept { conn_ = std::move(c); }
    connection& conn() const noexcept { return *conn_; }
    bool active() const noexcept { return pool_ != nullptr; }

    void recycle() {
        if (!pool_) return;
        if (st_->closed || !conn_) return discard();
        ++conn_->served;
        conn_->buf.clear();
        conn_->off = 0;
        try {
            st_->add_idle(*pool_, std::move(conn_));
        } catch (...) {
        }
        end();
    }

    void discard() noexcept {
        if (!pool_) return;
        if (conn_) conn_->s.abort();
        conn_.reset();
        end();
    }

private:
    void end() noexcept {
        host_pool* p = std::exchange(pool_, nullptr);
        try {
            p->slots.release();
        } catch (...) {
        }
        st_->leave(key_, *p);
    }

    std::shared_ptr<pool_state> st_;
    std::string key_;
    host_pool* pool_ = nullptr;
    std::unique_ptr<connection> conn_;
};

} // namespace detail

} // namespace corio::http
