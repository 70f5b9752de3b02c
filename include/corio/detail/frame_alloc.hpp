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

class frame_cache {
public:
    static constexpr std::size_t granule = 16;
    static constexpr std::size_t classes = 32;      // frames up to 512 bytes are recycled
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
        if (c < classes) n = (c + 1) * granule; // so the block can serve its whole class later
#endif
        return ::operator new(n);
    }

    void deallocate(void* p, [[maybe_unused]] std::size_t n) noexcept {
#ifndef CORIO_NO_FRAME_CACHE
        std::size_t c = class_of(n);
        if (c < classes && !dead_ && buckets_[c].count < max_cached) {
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

    ~frame_cache() {
        dead_ = true; // frames freed later in thread teardown go straight to delete
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
    // Blocks of class c are allocated with the class's full size, so any frame of the
    // class fits in a recycled one.
    static std::size_t class_of(std::size_t n) noexcept { return (n + granule - 1) / granule - 1; }

    bucket buckets_[classes];
    bool dead_ = false;
};

inline frame_cache& thread_frame_cache() noexcept {
    thread_local frame_cache cache;
    return cache;
}

inline void* allocate_frame(std::size_t n) {
#ifdef CORIO_COUNT_FRAMES
    live_frames.fetch_add(1, std::memory_order_relaxed);
#endif
    return thread_frame_cache().allocate(n);
}

inline void deallocate_frame(void* p, std::size_t n) noexcept {
#ifdef CORIO_COUNT_FRAMES
    live_frames.fetch_sub(1, std::memory_order_relaxed);
#endif
    thread_frame_cache().deallocate(p, n);
}

} // namespace corio::detail
