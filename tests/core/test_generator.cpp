// generator<T>: values, references and move-only values reach the consumer in place; the
// body awaits on the consumer's cancellation slot; exceptions and cancellation reach
// next(); an abandoned generator runs its locals' destructors; no frame leaks, a yield
// allocates nothing, and a million yields (synchronous or not) do not deepen the stack.
#define CORIO_COUNT_FRAMES 1
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "corio_test.hpp"

using namespace std::chrono_literals;
using corio::generator;
using corio::task;

// Counts every allocation through operator new, so a test can prove a yield makes none.
// The replacements pair malloc with free; GCC 12 inlines the deletes into the ring's setup
// (uring_reactor::create) while keeping operator new opaque, and then takes free() for a
// mismatch with ::operator new (-Wmismatched-new-delete, an error under -Werror).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
namespace {
std::atomic<long> allocations{0};
}
void* operator new(std::size_t n) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    allocations.fetch_add(1, std::memory_order_relaxed);
    return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace {

// Sets its flag when destroyed: proves the frame's locals were destroyed.
struct cleanup {
    bool& flag;
    ~cleanup() { flag = true; }
};

// The deepest and shallowest native stack addresses seen.
struct stack_span {
    std::uintptr_t lo = UINTPTR_MAX, hi = 0;
    [[gnu::noinline]] void sample() {
        auto here = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
        if (here < lo) lo = here;
        if (here > hi) hi = here;
    }
    std::uintptr_t spread() const { return hi - lo; }
};

generator<int> count_to(int n) {
    for (int i = 1; i <= n; ++i) co_yield i;
}

task<int> twice(int v) { co_return 2 * v; }

generator<int> awaiting_yields(corio::event& ev) {
    co_yield 1;
    co_await ev.wait();
    int doubled = co_await twice(2);
    co_yield doubled;
    co_await corio::sleep(1ms);
    co_yield 3;
}

} // namespace

TEST_CASE("generator: yields in order, awaits between yields, then ends with null") {
    corio::run([]() -> task<void> {
        corio::event ev;
        auto g = awaiting_yields(ev);
        REQUIRE_FALSE(g.done());
        std::vector<int> got;
        int* first = co_await g.next();
        REQUIRE(first);
        got.push_back(*first);
        auto setter = corio::spawn([&]() -> task<void> {
            co_await corio::sleep(1ms);
            ev.set();
        });
        while (int* v = co_await g.next()) got.push_back(*v);
        REQUIRE(got == std::vector<int>{1, 4, 3});
        REQUIRE(g.done());
        int* after = co_await g.next(); // still the end
        REQUIRE(after == nullptr);
        co_await setter;
    }());
    REQUIRE(corio::detail::live_frames.load() == 0);
}

TEST_CASE("generator: nothing runs before the first next(); an unstarted generator frees its frame") {
    bool ran = false, cleaned = false;
    {
        auto body = [&]() -> generator<int> {
            ran = true;
            cleanup c{cleaned};
            co_yield 1;
        };
        auto g = body();
        REQUIRE_FALSE(ran);
    }
    REQUIRE_FALSE(ran);
    REQUIRE_FALSE(cleaned); // the body never started, so it has no locals to destroy
    REQUIRE(corio::detail::live_frames.load() == 0);
}

TEST_CASE("generator: move-only values, lvalue copies and references") {
    corio::run([]() -> task<void> {
        auto owned = []() -> generator<std::unique_ptr<int>> {
            co_yield std::make_unique<int>(7);
            auto p = std::make_unique<int>(8);
            co_yield std::move(p);
        };
        auto g = owned();
        std::vector<int> got;
        while (auto* p = co_await g.next()) {
            std::unique_ptr<int> taken = std::move(*p); // the consumer takes it out
            got.push_back(*taken);
        }
        REQUIRE(got == std::vector<int>{7, 8});

        // An lvalue of a value type is copied into the frame: the body's own stays intact.
        auto copies = []() -> generator<std::string> {
            std::string s = "kept";
            co_yield s;
            REQUIRE(s == "kept");
            co_yield s + "!";
        };
        auto c = copies();
        std::string* s1 = co_await c.next();
        REQUIRE(*s1 == "kept");
        *s1 = "changed"; // changes the copy only
        std::string* s2 = co_await c.next();
        REQUIRE(*s2 == "kept!");

        // A reference generator points at the body's own object.
        std::vector<int> data{1, 2, 3};
        auto refs = [](std::vector<int>& v) -> generator<int&> {
            for (int& x : v) co_yield x;
        };
        auto r = refs(data);
        while (int* x = co_await r.next()) *x *= 10;
        REQUIRE(data == std::vector<int>{10, 20, 30});
    }());
    REQUIRE(corio::detail::live_frames.load() == 0);
}

TEST_CASE("generator: an exception thrown in the body reaches next(), once") {
    corio::run([]() -> task<void> {
        bool cleaned = false;
        auto failing = [&]() -> generator<int> {
            cleanup c{cleaned};
            co_yield 1;
            co_await corio::sleep(0s);
            throw std::runtime_error("boom");
        };
        auto g = failing();
        int* v = co_await g.next();
        REQUIRE(*v == 1);
        REQUIRE_THROWS_WITH(co_await g.next(), "boom");
        REQUIRE(cleaned);
        REQUIRE(g.done());
        int* end = co_await g.next();
        REQUIRE(end == nullptr);
    }());
    REQUIRE(corio::detail::live_frames.load() == 0);
}

TEST_CASE("generator: destroyed early, it destroys its locals; no frame leaks") {
    bool cleaned = false, inner_cleaned = false;
    corio::run([&]() -> task<void> {
        auto body = [&]() -> generator<int> {
            cleanup c{cleaned};
            for (int i = 0;; ++i) {
                cleanup per_round{inner_cleaned};
                co_yield i;
            }
        };
        {
            auto g = body();
            int* v = co_await g.next();
            REQUIRE(*v == 0);
            v = co_await g.next();
            REQUIRE(*v == 1);
            inner_cleaned = false;
            REQUIRE_FALSE(cleaned);
        } // destroyed while suspended at a co_yield
        REQUIRE(cleaned);
        REQUIRE(inner_cleaned);
    }());
    REQUIRE(corio::detail::live_frames.load() == 0);
}

TEST_CASE("generator: cancelling the consumer cancels what the body awaits, and cleans up") {
    bool cleaned = false, body_saw_cancel = false;
    corio::run([&]() -> task<void> {
        corio::event never;
        auto body = [&]() -> generator<int> {
            cleanup c{cleaned};
            co_yield 1;
            try {
                co_await never.wait();
            } catch (const corio::cancelled_error&) {
                body_saw_cancel = true;
                throw;
            }
            co_yield 2;
        };
        auto consumer = [&]() -> task<int> {
            auto g = body();
            int sum = 0;
            while (int* v = co_await g.next()) sum += *v;
            co_return sum;
        };
        auto h = corio::spawn(consumer());
        co_await corio::sleep(1ms);
        REQUIRE_FALSE(h.done());
        REQUIRE(h.cancel());
        REQUIRE_THROWS_AS(co_await h, corio::cancelled_error);
        REQUIRE(h.cancelled());
    }());
    REQUIRE(body_saw_cancel);
    REQUIRE(cleaned);
    REQUIRE(corio::detail::live_frames.load() == 0);
}

TEST_CASE("generator: the body may catch the cancellation and go on yielding") {
    corio::run([]() -> task<void> {
        auto body = []() -> generator<std::string> {
            try {
                co_await corio::sleep(1h);
                co_yield "slept";
            } catch (const corio::cancelled_error&) {
            }
            co_yield "cancelled";
            co_await corio::sleep(1ms); // not cancelled again: the request was consumed
            co_yield "went on";
        };
        auto consumer = [&]() -> task<std::vector<std::string>> {
            std::vector<std::string> got;
            auto g = body();
            while (auto* s = co_await g.next()) got.push_back(*s);
            co_return got;
        };
        auto h = corio::spawn(consumer());
        co_await corio::sleep(1ms);
        REQUIRE(h.cancel());
        auto got = co_await h;
        REQUIRE(got == std::vector<std::string>{"cancelled", "went on"});
    }());
    REQUIRE(corio::detail::live_frames.load() == 0);
}

TEST_CASE("generator: a consumer cancelled before its first next() cancels the body's first wait") {
    corio::run([]() -> task<void> {
        bool reached_wait = false;
        auto body = [&]() -> generator<int> {
            reached_wait = true;
            co_await corio::sleep(1h);
            co_yield 1;
        };
        auto g = body();
        corio::task_handle<void>* self = nullptr;
        auto consumer = [&]() -> task<void> {
            REQUIRE(self->cancel()); // pending: delivered at the body's first suspension
            int* v = co_await g.next();
            (void)v;
        };
        auto h = corio::spawn(consumer());
        self = &h;
        REQUIRE_THROWS_AS(co_await h, corio::cancelled_error);
        REQUIRE(reached_wait);
        REQUIRE(g.done());
    }());
    REQUIRE(corio::detail::live_frames.load() == 0);
}

TEST_CASE("generator: a second next() while one waits throws logic_error") {
    corio::run([]() -> task<void> {
        corio::event ev;
        auto body = [&]() -> generator<int> {
            co_await ev.wait();
            co_yield 1;
        };
        auto g = body();
        auto first = corio::spawn([&]() -> task<int> { co_return *co_await g.next(); });
        co_await corio::sleep(0s);
        REQUIRE_THROWS_AS(co_await g.next(), std::logic_error);
        ev.set();
        int first_got = co_await first;
        REQUIRE(first_got == 1);
    }());
}

TEST_CASE("generator: generators consume generators") {
    corio::run([]() -> task<void> {
        auto evens = []() -> generator<int> {
            auto inner = count_to(10);
            while (int* v = co_await inner.next())
                if (*v % 2 == 0) co_yield *v;
        };
        auto g = evens();
        std::vector<int> got;
        while (int* v = co_await g.next()) got.push_back(*v);
        REQUIRE(got == std::vector<int>{2, 4, 6, 8, 10});
    }());
    REQUIRE(corio::detail::live_frames.load() == 0);
}

TEST_CASE("generator: a yield allocates nothing") {
    corio::run([]() -> task<void> {
        corio::event ev;
        ev.set();
        auto body = [&]() -> generator<std::string> {
            std::string lvalue = "an lvalue, longer than the small-string buffer";
            for (int i = 0;; ++i) {
                co_yield std::move(lvalue); // in place, no copy
                lvalue = "an lvalue, longer than the small-string buffer";
                co_await ev.wait(); // set: completes without suspending
                if (i % 2) co_await corio::sleep(0s); // suspends: the consumer waits in next()
            }
        };
        auto g = body();
        for (int i = 0; i < 10; ++i) (void)*co_await g.next(); // warm up (the ready queue's ring)
        long before = allocations.load();
        std::size_t total = 0;
        for (int i = 0; i < 1000; ++i) total += (co_await g.next())->size();
        long after = allocations.load();
        REQUIRE(after == before);
        REQUIRE(total == 1000 * std::string("an lvalue, longer than the small-string buffer").size());
    }());
}

TEST_CASE("generator: a million synchronous yields do not deepen the stack") {
    stack_span consumer_span, body_span;
    corio::run([&]() -> task<void> {
        auto body = [&]() -> generator<long> {
            for (long i = 0; i < 1'000'000; ++i) {
                body_span.sample();
                co_yield i;
            }
        };
        auto g = body();
        long sum = 0, n = 0;
        while (long* v = co_await g.next()) {
            consumer_span.sample();
            sum += *v;
            ++n;
        }
        REQUIRE(n == 1'000'000);
        REQUIRE(sum == 999'999L * 1'000'000L / 2);
    }());
    REQUIRE(consumer_span.spread() < 4096);
    REQUIRE(body_span.spread() < 4096);
}

TEST_CASE("generator: a million yields interleaved with awaits do not deepen the stack") {
    stack_span consumer_span, body_span;
    corio::run([&]() -> task<void> {
        auto body = [&]() -> generator<long> {
            for (long i = 0; i < 1'000'000; ++i) {
                int two = co_await twice(1); // completes inline
                if (i % 2) co_await corio::sleep(0s); // suspends: resumed by the loop
                body_span.sample();
                co_yield i * two;
            }
        };
        auto g = body();
        long sum = 0;
        while (long* v = co_await g.next()) {
            consumer_span.sample();
            sum += *v;
        }
        REQUIRE(sum == 999'999L * 1'000'000L);
    }());
    // Resumed from the loop or from inside next(): two depths, not a million.
    REQUIRE(consumer_span.spread() < 16384);
    REQUIRE(body_span.spread() < 16384);
    REQUIRE(corio::detail::live_frames.load() == 0);
}
