#pragma once
// Where coroutine frames come from. Small frames are recycled through per-thread free
// lists, so the create/await/destroy cycle of a short task skips malloc; CORIO_COUNT_FRAMES
// (tests) also counts live frames to prove nothing leaks.
#include <cstddef>
#include <cstdlib>
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
    static constexpr std::size_t granule = 64;
    static constexpr std::size_t classes = 8; // frames up to 512 bytes are recycled
    static constexpr std::size_t max_cached = 1024; // per class: bounds what an idle thread keeps

    void* allocate(std::size_t n) {
#ifdef CORIO_NO_FRAME_CACHE
        return finish(::operator new(n + sizeof(header)), 0);
#endif
        std::size_t c = (n + sizeof(header) + granule - 1) / granule;
        if (c <= classes) {
            bucket& b = buckets_[c - 1];
            if (b.head) {
                node* f = b.head;
                b.head = f->next;
                --b.count;
                return finish(f, c);
            }
            return finish(::operator new(c * granule), c);
        }
        return finish(::operator new(n + sizeof(header)), 0);
    }

    void deallocate(void* p) noexcept {
        header* h = static_cast<header*>(p) - 1;
        std::size_t c = h->size_class;
        if (c != 0 && !dead_ && buckets_[c - 1].count < max_cached) {
            bucket& b = buckets_[c - 1];
            node* f = reinterpret_cast<node*>(h);
            f->next = b.head;
            b.head = f;
            ++b.count;
            return;
        }
        ::operator delete(static_cast<void*>(h));
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
    struct alignas(std::max_align_t) header {
        std::size_t size_class;
    };
    struct node {
        node* next;
    };
    struct bucket {
        node* head = nullptr;
        std::size_t count = 0;
    };
    static void* finish(void* raw, std::size_t c) noexcept {
        header* h = static_cast<header*>(raw);
        h->size_class = c;
        return h + 1;
    }
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

inline void deallocate_frame(void* p) noexcept {
#ifdef CORIO_COUNT_FRAMES
    live_frames.fetch_sub(1, std::memory_order_relaxed);
#endif
    thread_frame_cache().deallocate(p);
}

} // namespace corio::detail
