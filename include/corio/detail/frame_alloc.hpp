#pragma once
// Where coroutine frames come from. Frames are freed with their size (the promise
// declares a sized operator delete), so no header is needed; small frames are recycled
// through per-thread free lists so the create/await/destroy cycle of a short task skips
// malloc. CORIO_COUNT_FRAMES (tests) also counts live frames to prove nothing leaks.
#include <cstddef>
#include <new>
#ifdef CORIO_COUNT_FRAMES
#include <atomic>
#endif

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

// The per-thread lists are plain constant-initialised data, so the hot path pays no
// thread_local initialisation guard; a separate guarded object frees the lists at thread
// exit, and is first touched on the slow path that lets the lists start keeping frames.
class frame_cache {
public:
    static constexpr std::size_t granule = 16;
    static constexpr std::size_t classes = 32;      // frames up to 504 bytes are recycled
    static constexpr std::size_t max_cached = 256;  // per class: what an idle thread keeps

    void* allocate(std::size_t n) {
#ifndef CORIO_NO_FRAME_CACHE
        std::size_t c = class_of(n);
        if (c < classes && buckets_[c].head) {
            bucket& b = buckets_[c];
            node* f = b.head;
            b.head = f->next;
            --b.count;
            return f;
        }
        if (c < classes) n = block_size(c); // so the block can serve its whole class later
#endif
        return ::operator new(n);
    }

    void deallocate(void* p, [[maybe_unused]] std::size_t n) noexcept {
#ifndef CORIO_NO_FRAME_CACHE
        std::size_t c = class_of(n);
        if (c < classes && buckets_[c].count < max_cached && (keeping_ || start_keeping())) {
            bucket& b = buckets_[c];
            node* f = static_cast<node*>(p);
            f->next = b.head;
            b.head = f;
            ++b.count;
            return;
        }
#endif
        ::operator delete(p);
    }

    // Thread exit: frames freed later in teardown go straight to delete.
    void release_all() noexcept {
        keeping_ = false;
        dead_ = true;
        for (bucket& b : buckets_)
            while (b.head) {
                node* f = b.head;
                b.head = f->next;
                ::operator delete(static_cast<void*>(f));
            }
    }

private:
    struct node {
        node* next;
    };
    struct bucket {
        node* head = nullptr;
        std::size_t count = 0;
    };
    // Blocks of class c are allocated with the class's full size, 16c + 8 bytes, so any
    // frame of the class fits in a recycled one. The odd 8 is what malloc gives anyway:
    // its chunks are 16-byte multiples with an 8-byte header, so rounding frames up to
    // 16-byte multiples would cost a whole extra granule per frame (a 136-byte frame in
    // a 160-byte chunk instead of 144).
    static std::size_t class_of(std::size_t n) noexcept { return (n + 7) / granule; }
    static std::size_t block_size(std::size_t c) noexcept { return c * granule + 8; }

    bool start_keeping() noexcept;

    bucket buckets_[classes];
    bool keeping_ = false; // the exit hook is armed and the thread is not exiting
    bool dead_ = false;
};

inline constinit thread_local frame_cache thread_frames;

struct frame_cache_exit_hook {
    ~frame_cache_exit_hook() { thread_frames.release_all(); }
};

inline bool frame_cache::start_keeping() noexcept {
    if (dead_) return false;
    thread_local frame_cache_exit_hook hook; // registers the exit hook on first use
    (void)hook;
    keeping_ = true;
    return true;
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
