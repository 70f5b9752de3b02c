// Randomised cancellation: a server, clients and a queue pipeline with a lock and a
// semaphore, with one task (sometimes twice) cancelled at a random point, for 1,000 seeds.
// After each, nothing is lost or duplicated, the primitives are at rest, and no descriptor
// or frame is left behind. A failing seed is printed; replay it alone with
// CORIO_CANCEL_SEED=<seed>. CORIO_CANCEL_SEEDS=<n> changes how many seeds run.
#define CORIO_COUNT_FRAMES 1
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <vector>

// Present only when a sanitizer runtime is linked: a report then names the seed too.
extern "C" void __sanitizer_set_death_callback(void (*)(void)) __attribute__((weak));

#include "helpers/net_helpers.hpp"

using namespace std::chrono_literals;

namespace {

unsigned current_seed = 0;
// How many seeds delivered a cancellation to each kind of task: the chaos must land.
unsigned hits[3] = {};

void print_seed_on_death() { std::fprintf(stderr, "\ncancel fuzz: failing seed %u\n", current_seed); }

struct world {
    std::mt19937 rng;
    corio::lock lock;
    corio::semaphore sem{2};
    corio::queue<std::string> q{2};
    std::vector<std::string> acknowledged; // puts that returned, in order
    std::vector<std::string> taken; // gets that returned, in order
    std::vector<std::string> consumed; // recorded under the lock
    std::vector<std::string> errors;
    std::vector<corio::task_handle<void>> handlers, clients;
    std::optional<corio::task_handle<void>> consumer;
    std::vector<bool> client_complete;
    int replacements = 0;

    explicit world(unsigned seed) : rng(seed) {}
    unsigned pick(unsigned n) { return std::uniform_int_distribution<unsigned>(0, n - 1)(rng); }
};

// Echoes lines, at most two connections at a time past the semaphore.
corio::task<void> serve(world& w, corio::stream s) {
    for (;;) {
        std::string line = co_await s.readline();
        if (line.empty()) break;
        co_await w.sem.acquire();
        struct permit {
            corio::semaphore& s;
            ~permit() { s.release(); }
        } held{w.sem};
        co_await corio::sleep(0s);
        s.write(line);
        co_await s.drain();
    }
}

corio::task<void> handle_connection(world* w, corio::stream s) {
    auto h = corio::spawn(serve(*w, std::move(s)));
    w->handlers.push_back(h);
    co_await h.wait();
}

corio::task<void> client(world& w, corio::endpoint to, int id, int lines) {
    corio::stream s = co_await corio::open_connection(to);
    for (int i = 0; i < lines; ++i) {
        std::string line = "c" + std::to_string(id) + "-" + std::to_string(i) + "\n";
        std::string echo;
        try {
            s.write(line);
            co_await s.drain();
            echo = co_await s.readline();
        } catch (const std::system_error&) {
            co_return; // its handler was cancelled and the server reset the connection
        }
        if (echo.empty()) co_return; // its handler was cancelled: the server hung up
        if (echo != line) w.errors.push_back("echo mismatch: " + echo + " for " + line);
        co_await w.q.put(echo);
        w.acknowledged.push_back(echo);
    }
    w.client_complete[static_cast<std::size_t>(id)] = true;
}

corio::task<void> consume(world& w) {
    for (;;) {
        std::string v = co_await w.q.get();
        if (v == "END") co_return;
        w.taken.push_back(v);
        auto g = co_await w.lock.scoped();
        co_await corio::sleep(0s);
        w.consumed.push_back(v);
    }
}

// Waits a random number of loop turns, then cancels one task (sometimes twice). A
// cancelled consumer is replaced, so the clients' puts do not wait for ever.
corio::task<void> chaos(world& w) {
    unsigned turns = w.pick(60);
    for (unsigned i = 0; i < turns; ++i) co_await corio::sleep(0s);
    unsigned target = w.pick(3);
    corio::task_handle<void>* victim = nullptr;
    if (target == 0) {
        victim = &*w.consumer;
    } else if (target == 1 && !w.clients.empty()) {
        victim = &w.clients[w.pick(static_cast<unsigned>(w.clients.size()))];
    } else if (!w.handlers.empty()) {
        victim = &w.handlers[w.pick(static_cast<unsigned>(w.handlers.size()))];
    }
    if (!victim) co_return;
    bool twice = w.pick(4) == 0;
    if (!victim->cancel()) co_return;
    ++hits[victim == &*w.consumer ? 0 : target == 1 ? 1 : 2];
    if (twice) (void)victim->cancel();
    if (victim == &*w.consumer) {
        co_await victim->wait();
        ++w.replacements;
        w.consumer = corio::spawn(consume(w));
    }
}

bool dynamic_cast_system_error(const std::exception_ptr& e);

corio::task<void> scenario(world& w) {
    auto handler = [&w](corio::stream s) { return handle_connection(&w, std::move(s)); };
    corio::server srv = co_await corio::start_server(std::move(handler), "127.0.0.1", 0);
    w.consumer = corio::spawn(consume(w));
    int n = 3;
    w.client_complete.assign(static_cast<std::size_t>(n), false);
    for (int i = 0; i < n; ++i) w.clients.push_back(corio::spawn(client(w, srv.addresses().at(0), i, 8)));
    auto monkey = corio::spawn(chaos(w));
    for (auto& c : w.clients) {
        co_await c.wait();
        if (!c.cancelled()) {
            if (auto e = c.exception()) w.errors.push_back("client failed: " + net_test::what(e));
        }
    }
    co_await monkey.wait();
    for (auto& h : w.handlers) { // a handler may fail when its client goes: that is fine
        co_await h.wait();
        if (auto e = h.exception(); e && !h.cancelled() && !dynamic_cast_system_error(e))
            w.errors.push_back("handler failed: " + net_test::what(e));
    }
    co_await w.q.put("END");
    co_await w.consumer->wait();
    srv.close();
    co_await srv.wait_closed();
    for (auto& h : w.handlers) co_await h.wait();
}

bool dynamic_cast_system_error(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::system_error&) {
        return true;
    } catch (...) {
        return false;
    }
}

void run_seed(unsigned seed) {
    current_seed = seed;
    int fds = test_support::open_fd_count();
    world w(seed);
    corio::run([&]() -> corio::task<void> { co_await scenario(w); }());
    INFO("seed " << seed << " (replay: CORIO_CANCEL_SEED=" << seed << ")");
    for (auto& e : w.errors) FAIL_CHECK(e);
    // The queue lost and duplicated nothing: what was taken, then what is left, is what
    // was put, in order.
    std::vector<std::string> all = w.taken;
    while (!w.q.empty()) {
        std::string v = w.q.get_nowait();
        if (v != "END") all.push_back(v);
    }
    REQUIRE(all == w.acknowledged);
    // A consumer cancelled between taking an item and recording it loses that item; the
    // record is otherwise what was taken, in order.
    REQUIRE(w.consumed.size() + static_cast<std::size_t>(w.replacements) >= w.taken.size());
    for (std::size_t i = 0, j = 0; i < w.consumed.size(); ++i, ++j) {
        while (j < w.taken.size() && w.taken[j] != w.consumed[i]) ++j;
        REQUIRE(j < w.taken.size());
    }
    REQUIRE_FALSE(w.lock.locked());
    REQUIRE(w.sem.value() == 2);
    REQUIRE_FALSE(w.q.full());
    for (std::size_t i = 0; i < w.clients.size(); ++i) {
        bool handler_cancelled = false;
        for (auto& h : w.handlers) handler_cancelled = handler_cancelled || h.cancelled();
        if (!w.clients[i].cancelled() && !handler_cancelled) REQUIRE(w.client_complete[i]);
    }
    w.handlers.clear();
    w.clients.clear();
    w.consumer.reset();
    REQUIRE(corio::detail::live_frames.load() == 0);
    REQUIRE(test_support::open_fd_count() == fds);
}

} // namespace

TEST_CASE("random cancellations leave every primitive at rest and lose nothing") {
    if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(&print_seed_on_death);
    if (const char* one = std::getenv("CORIO_CANCEL_SEED")) {
        run_seed(static_cast<unsigned>(std::strtoul(one, nullptr, 10)));
        return;
    }
    unsigned seeds = 1000;
    if (const char* n = std::getenv("CORIO_CANCEL_SEEDS")) seeds = static_cast<unsigned>(std::strtoul(n, nullptr, 10));
    for (unsigned seed = 1; seed <= seeds; ++seed) run_seed(seed);
    std::printf("cancel fuzz: %u seeds; cancellations delivered to a consumer %u, a client %u, "
                "a handler %u\n", seeds, hits[0], hits[1], hits[2]);
    REQUIRE(hits[0] + hits[1] + hits[2] >= seeds / 2);
}
