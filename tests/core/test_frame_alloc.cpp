// The frame slabs: freed frames are reused whichever thread frees them, so memory follows
// the peak of live frames, not the number ever created. Uses a size class no frame in this
// binary has (488 bytes), so the only blocks of that class are the ones made here.
#include "corio_test.hpp"

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <new>
#include <set>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t size = 488;

std::vector<void*> allocate(std::size_t n) {
    std::vector<void*> v;
    for (std::size_t i = 0; i < n; ++i) v.push_back(corio::detail::allocate_frame(size));
    return v;
}

void free_all(const std::vector<void*>& v) {
    for (void* p : v) corio::detail::deallocate_frame(p, size);
}

} // namespace

TEST_CASE("frames are usable memory of the size asked for") {
    std::vector<void*> v = allocate(1000);
    for (std::size_t i = 0; i < v.size(); ++i) std::memset(v[i], int(i), size);
    for (std::size_t i = 0; i < v.size(); ++i) REQUIRE(static_cast<unsigned char*>(v[i])[size - 1] == (i & 0xff));
    free_all(v);
}

#ifndef CORIO_NO_FRAME_CACHE
TEST_CASE("a burst's frames serve the next burst") {
    std::vector<void*> first = allocate(20'000);
    free_all(first);
    std::vector<void*> second = allocate(20'000);
    std::set<void*> seen(first.begin(), first.end());
    for (void* p : second) REQUIRE(seen.count(p) == 1);
    free_all(second);
}

TEST_CASE("frames freed by another thread come back to the allocating one") {
    std::set<void*> seen;
    for (int round = 0; round < 50; ++round) {
        std::vector<void*> v = allocate(1000);
        seen.insert(v.begin(), v.end());
        std::thread consumer([&] { free_all(v); }); // its list goes to the depot at exit
        consumer.join();
    }
    // Without the depot, every round would take 1000 new blocks.
    REQUIRE(seen.size() <= 2000);
}

TEST_CASE("a long-lived thread freeing another's frames does not hoard them") {
    std::set<void*> seen;
    std::vector<void*> batch;
    bool have = false, done = false;
    std::mutex mu;
    std::condition_variable cv;
    std::thread consumer([&] {
        std::unique_lock lk(mu);
        for (;;) {
            cv.wait(lk, [&] { return have || done; });
            if (have) {
                free_all(batch);
                have = false;
                cv.notify_all();
            } else {
                return;
            }
        }
    });
    for (int round = 0; round < 200; ++round) {
        std::vector<void*> v = allocate(1000);
        seen.insert(v.begin(), v.end());
        std::unique_lock lk(mu);
        batch = std::move(v);
        have = true;
        cv.notify_all();
        cv.wait(lk, [&] { return !have; });
    }
    {
        std::lock_guard lk(mu);
        done = true;
    }
    cv.notify_all();
    consumer.join();
    // The consumer keeps at most a list's worth; the rest reaches the producer again.
    REQUIRE(seen.size() <= 2000);
}
#endif

// Frames are laid out for operator new's alignment whatever their size. Three blocks of
// each size are alive at once, so neighbouring blocks of a slab are checked too.
TEST_CASE("blocks of every size are aligned as operator new's") {
    constexpr std::size_t align = __STDCPP_DEFAULT_NEW_ALIGNMENT__;
    for (std::size_t n = 1; n <= 600; ++n) {
        void* p[3];
        for (void*& q : p) {
            q = corio::detail::allocate_frame(n);
            std::memset(q, 0xa5, n);
        }
        for (void* q : p) {
            INFO("size " << n << " at " << q);
            REQUIRE(reinterpret_cast<std::uintptr_t>(q) % align == 0);
        }
        for (void* q : p) corio::detail::deallocate_frame(q, n);
    }
}

TEST_CASE("the aligned form gives over-aligned frames their alignment") {
    for (std::size_t a : {std::size_t(8), std::size_t(16), std::size_t(32), std::size_t(64), std::size_t(4096)}) {
        for (std::size_t n : {std::size_t(24), std::size_t(136), std::size_t(4096)}) {
            void* p[3];
            for (void*& q : p) {
                q = corio::detail::allocate_frame(n, std::align_val_t(a));
                std::memset(q, 0x5a, n);
            }
            for (void* q : p) {
                INFO("size " << n << ", alignment " << a << " at " << q);
                REQUIRE(reinterpret_cast<std::uintptr_t>(q) % a == 0);
            }
            for (void* q : p) corio::detail::deallocate_frame(q, n, std::align_val_t(a));
        }
    }
}
