#pragma once
// Memory for the frame slabs, straight from the OS, never returned (see frame_alloc.hpp).
// Kept apart so the OS header stays in detail/.
#include <cstddef>
#include <cstdint>
#include <new>

#include <sys/mman.h>

namespace corio::detail {

inline constexpr std::size_t huge_page_size = std::size_t(2) << 20;

// `size` bytes of zeroed memory. A huge_page_size request comes aligned to it and marked
// for transparent huge pages where the system offers them on request: a million frames
// then cost about 70 page faults instead of 35,000, and the kernel clears each 2 MiB page
// in one go. Elsewhere (THP off, other systems) the advice is ignored or fails harmlessly.
inline void* map_frame_pages(std::size_t size) {
    bool huge = size == huge_page_size;
    std::size_t len = huge ? size * 2 : size; // room to cut an aligned 2 MiB out of
    void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANON, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    if (!huge) return p;
    auto start = reinterpret_cast<std::uintptr_t>(p);
    std::uintptr_t aligned = (start + size - 1) & ~(size - 1);
    if (aligned != start) ::munmap(p, aligned - start);
    if (std::uintptr_t tail = start + len - (aligned + size))
        ::munmap(reinterpret_cast<void*>(aligned + size), tail);
#ifdef MADV_HUGEPAGE
    ::madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);
#endif
    return reinterpret_cast<void*>(aligned);
}

} // namespace corio::detail
