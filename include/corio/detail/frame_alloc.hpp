#pragma once
// Where coroutine frames come from. Frames are freed with their size (the promise
// declares a sized operator delete), so no header is needed. Small frames (up to 512
// bytes, in 16-byte size classes) are carved from slabs of OS pages and recycled through
// per-thread free lists, so the create/await/destroy cycle of a short task is a pop and a
// push, and frames of a million sleeping tasks lie packed in their pages with no malloc
// header between them. Larger frames use operator new. CORIO_COUNT_FRAMES (tests) also
// counts live frames to prove nothing leaks.
//
// Alignment: compilers lay frames out for the alignment operator new promises,
// __STDCPP_DEFAULT_NEW_ALIGNMENT__ (16 on x86-64), whatever the frame's size, and store to
// 16-byte frame offsets with aligned vector moves. So every block is a multiple of 16
// bytes and slabs are carved at multiples of 16. A frame needing more (an alignas(64)
// local kept across a suspension) gets no more from GCC 12, clang 14 or clang 16 either,
// with ::operator new as with this: they call the plain form and do not realign the
// frame. Compilers implementing P2014 (clang 16 with -fcoro-aligned-allocation) pass the
// alignment to the promise's aligned form instead, and it is honoured there.
//
// Memory: each thread keeps at most max_cached free frames per class; beyond that it hands
// the older half to a process-wide depot, where any thread refills from before carving
// new slab memory. So steady state reuses frames whichever thread frees them (a frame
// freed on another thread than the one that allocated it simply joins that thread's
// list), and the slab memory only grows to the peak number of live frames. It is never
// returned to the OS: after a burst of a million tasks, the process keeps their frames'
// memory (128 MB for a million sleepers built with g++ 12) for the next burst.
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
static_assert(__STDCPP_DEFAULT_NEW_ALIGNMENT__ <= granule, "frame blocks would be under-aligned");
inline constexpr std::size_t classes = 33; // class c holds blocks of 16c bytes, c >= 2

// Blocks of class c have the class's full size, 16c bytes, so any frame of the class fits
// in a recycled one. Frame sizes are multiples of 8: a frame of 16c - 8 bytes takes 8
// bytes more than its size, one of 16c bytes exactly its size. No contiguous carving of
// aligned blocks is tighter; blocks of 16c + 8 bytes, as malloc's chunks are, would
// instead waste 8 bytes on the second kind, the same on average, and leave every other
// block misaligned. Separate 8-aligned classes for 16c - 8 bytes (an object of that size
// cannot need 16) would waste nothing, but compilers assume 16 whatever the size: clang
// hands its frame lowering the new alignment as the allocation's own.
constexpr std::size_t class_of(std::size_t n) noexcept { return (n + granule - 1) / granule; }
constexpr std::size_t block_size(std::size_t c) noexcept { return c * granule; }
// Classes 0 and 1 cannot hold the depot's three-word batch header (no frame is that small).
constexpr bool slab_class(std::size_t c) noexcept { return c - 2 < classes - 2; }
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
        for (std::size_t c = 2; c < frame_sizes::classes; ++c) {
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

// The promise's aligned operator new: compilers implementing P2014 (clang 16 with
// -fcoro-aligned-allocation) call it for every frame, GCC 12 and clang 14 for none. A
// frame needing no more than a block's alignment comes from the slabs like any other;
// over-aligned ones are rare enough for the aligned operator new.
inline void* allocate_frame(std::size_t n, std::align_val_t a) {
    if (std::size_t(a) <= frame_sizes::granule) return allocate_frame(n);
#ifdef CORIO_COUNT_FRAMES
    live_frames.fetch_add(1, std::memory_order_relaxed);
#endif
    return ::operator new(n, a);
}

inline void deallocate_frame(void* p, std::size_t n, std::align_val_t a) noexcept {
    if (std::size_t(a) <= frame_sizes::granule) return deallocate_frame(p, n);
#ifdef CORIO_COUNT_FRAMES
    live_frames.fetch_sub(1, std::memory_order_relaxed);
#endif
    ::operator delete(p, a);
}

} // namespace corio::detail
