#pragma once
// Where coroutine frames come from. Frames are freed with their size (the promise
// declares a sized operator delete), so no header is needed. Small frames (up to 504
// bytes, in 16-byte size classes) are carved from slabs of OS pages and recycled through
// per-thread free lists, so the create/await/destroy cycle of a short task is a pop and a
// push, and frames of a million sleeping tasks lie packed in their pages with no malloc
// header between them. Larger frames use operator new. CORIO_COUNT_FRAMES (tests) also
// counts live frames to prove nothing leaks.
//
// Memory: each thread keeps at most max_cached free frames per class; beyond that it hands
// the older half to a process-wide depot, where any thread refills from before carving
// new slab memory. So steady state reuses frames whichever thread frees them (a frame
// freed on another thread than the one that allocated it simply joins that thread's
// list), and the slab memory only grows to the peak number of live frames. It is never
// returned to the OS: after a burst of a million tasks, the process keeps their frames'
// memory (about 120 MB for a million sleepers) for the next burst.
#include <atomic>
#include <cstddef>
#include <new>

#include "corio/detail/frame_pages.hpp"

// Under AddressSanitizer recycling would hide use-after-free of frames: use plain new/delete.
#if defined(__SANITIZE_ADDRESS__)
#define CORIO_NO_FRAME_CACHE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORIO_NO_FRAME_CACHE 1
#endif
#endif

namespace corio::detail {

#ifdef CORIO_COUNT_FRAMES
inline std::atomic<long> live_frames{0};
#endif

namespace frame_sizes {
inline constexpr std::size_t granule = 16;
inline constexpr std::size_t classes = 32; // class c holds blocks of 16c + 8 bytes, c >= 1

// Blocks of class c have the class's full size, 16c + 8 bytes, so any frame of the class
// fits in a recycled one. The odd 8 keeps frames as tight as malloc's chunks were (a
// 136-byte frame in 136 bytes, where 16-byte blocks would need 144).
constexpr std::size_t class_of(std::size_t n) noexcept { return (n + 7) / granule; }
constexpr std::size_t block_size(std::size_t c) noexcept { return c * granule + 8; }
// Class 0 (8 bytes) cannot hold a frame, nor the depot's three-word batch header.
constexpr bool slab_class(std::size_t c) noexcept { return c - 1 < classes - 1; }
} // namespace frame_sizes

// A free block. As the first block of a batch in the depot it also carries the batch's
// link and length, which is why the smallest class has three words.
struct free_frame {
    free_frame* next;
    free_frame* next_batch;
    std::size_t count;
};

// Process-wide: free batches per class, and the slab being carved. Constant-initialised
// and trivially destructible, so threads that exit during static destruction can still
// use it. Every access is rare (a refill or an overflow per max_cached/2 frames) and
// short, hence a spin lock that sleeps on the atomic rather than a mutex.
struct frame_depot {
    std::atomic<bool> locked{false};
    free_frame* batches[frame_sizes::classes] = {};
    char* bump = nullptr; // the slab being carved
    char* end = nullptr;
    std::size_t next_slab = std::size_t(64) << 10; // doubles up to max_slab_size

    void lock() noexcept {
        while (locked.exchange(true, std::memory_order_acquire)) locked.wait(true, std::memory_order_relaxed);
    }
    void unlock() noexcept {
        locked.store(false, std::memory_order_release);
        locked.notify_one();
    }

    void put(std::size_t c, free_frame* batch) noexcept {
        lock();
        batch->next_batch = batches[c];
        batches[c] = batch;
        unlock();
    }

    // A batch of free blocks, or else up to `want` fresh contiguous ones (at least one):
    // returns the first and sets `got` to how many. Small programs start with small slabs.
    free_frame* take(std::size_t c, std::size_t want, std::size_t& got) {
        std::size_t size = frame_sizes::block_size(c);
        lock();
        if (free_frame* b = batches[c]) {
            batches[c] = b->next_batch;
            unlock();
            got = b->count;
            return b;
        }
        if (std::size_t(end - bump) < size) {
            char* slab;
            try {
                slab = static_cast<char*>(map_frame_pages(next_slab));
            } catch (...) {
                unlock();
                throw;
            }
            bump = slab;
            end = slab + next_slab;
            if (next_slab < max_slab_size) next_slab *= 2;
        }
        std::size_t room = std::size_t(end - bump) / size;
        got = want < room ? want : room;
        char* p = bump;
        bump += got * size;
        unlock();
        // Link the fresh blocks in address order, so they are handed out in that order.
        for (std::size_t i = 0; i + 1 < got; ++i)
            reinterpret_cast<free_frame*>(p + i * size)->next = reinterpret_cast<free_frame*>(p + (i + 1) * size);
        reinterpret_cast<free_frame*>(p + (got - 1) * size)->next = nullptr;
        return reinterpret_cast<free_frame*>(p);
    }
};

inline constinit frame_depot frame_depot_instance;

// The per-thread lists are plain constant-initialised data, so the hot path pays no
// thread_local initialisation guard; a separate guarded object gives the lists back to the
// depot at thread exit. It is first touched on a slow path (the first refill, or the first
// free, which finds the list limit still 0), and the limit drops to 0 again at exit.
class frame_cache {
public:
    static constexpr std::size_t max_cached = 256; // per class: what a thread keeps

    void* allocate(std::size_t n) {
#ifndef CORIO_NO_FRAME_CACHE
        std::size_t c = frame_sizes::class_of(n);
        if (frame_sizes::slab_class(c)) {
            bucket& b = buckets_[c];
            if (free_frame* f = b.head) [[likely]] {
                b.head = f->next;
                --b.count;
                return f;
            }
            return refill(c);
        }
#endif
        return ::operator new(n);
    }

    void deallocate(void* p, [[maybe_unused]] std::size_t n) noexcept {
#ifndef CORIO_NO_FRAME_CACHE
        std::size_t c = frame_sizes::class_of(n);
        if (frame_sizes::slab_class(c)) {
            bucket& b = buckets_[c];
            auto* f = static_cast<free_frame*>(p);
            if (b.count < limit_) [[likely]] {
                f->next = b.head;
                b.head = f;
                ++b.count;
                return;
            }
            overflow(c, f);
            return;
        }
#endif
        ::operator delete(p);
    }

    // Thread exit: every list goes to the depot, and later frees go there one by one.
    void release_all() noexcept {
        limit_ = 0;
        dead_ = true;
        for (std::size_t c = 1; c < frame_sizes::classes; ++c) {
            bucket& b = buckets_[c];
            if (!b.head) continue;
            b.head->count = b.count;
            frame_depot_instance.put(c, b.head);
            b.head = nullptr;
            b.count = 0;
        }
    }

private:
    struct bucket {
        free_frame* head = nullptr;
        std::size_t count = 0;
    };

    // The list is empty: take a batch from the depot, or fresh blocks.
    [[gnu::noinline]] void* refill(std::size_t c) {
        // A thread that only allocates must still give its list back when it exits.
        if (!dead_ && limit_ == 0) arm();
        std::size_t got = 0;
        // Enough fresh blocks for a few pages at a time, so carving takes the lock rarely.
        std::size_t want = dead_ ? 1 : 8192 / frame_sizes::block_size(c);
        free_frame* f = frame_depot_instance.take(c, want, got);
        if (dead_ && got > 1) { // an exiting thread must not start a list again
            free_frame* rest = f->next;
            rest->count = got - 1;
            frame_depot_instance.put(c, rest);
        } else {
            buckets_[c].head = f->next;
            buckets_[c].count = got - 1;
        }
        return f;
    }

    // The list is full (or not armed yet): keep the newer half, which is still in cache,
    // and hand the rest to the depot as one batch.
    [[gnu::noinline]] void overflow(std::size_t c, free_frame* f) noexcept {
        bucket& b = buckets_[c];
        if (!dead_ && limit_ == 0) arm();
        if (b.count < limit_) {
            f->next = b.head;
            b.head = f;
            ++b.count;
            return;
        }
        if (dead_) {
            f->next = nullptr;
            f->count = 1;
            frame_depot_instance.put(c, f);
            return;
        }
        f->next = b.head;
        b.head = f;
        free_frame* last_kept = f;
        for (std::size_t i = 1; i < max_cached / 2; ++i) last_kept = last_kept->next;
        free_frame* rest = last_kept->next;
        last_kept->next = nullptr;
        rest->count = b.count + 1 - max_cached / 2;
        b.count = max_cached / 2;
        frame_depot_instance.put(c, rest);
    }

    void arm() noexcept;

    bucket buckets_[frame_sizes::classes];
    std::size_t limit_ = 0; // max_cached once the exit hook is armed, until the thread exits
    bool dead_ = false;
};

inline constinit thread_local frame_cache thread_frames;

struct frame_cache_exit_hook {
    ~frame_cache_exit_hook() { thread_frames.release_all(); }
};

inline void frame_cache::arm() noexcept {
    thread_local frame_cache_exit_hook hook; // registers the exit hook on first use
    (void)hook;
    limit_ = max_cached;
}

inline void* allocate_frame(std::size_t n) {
#ifdef CORIO_COUNT_FRAMES
    live_frames.fetch_add(1, std::memory_order_relaxed);
#endif
    return thread_frames.allocate(n);
}

inline void deallocate_frame(void* p, std::size_t n) noexcept {
#ifdef CORIO_COUNT_FRAMES
    live_frames.fetch_sub(1, std::memory_order_relaxed);
#endif
    thread_frames.deallocate(p, n);
}

} // namespace corio::detail
