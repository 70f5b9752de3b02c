#pragma once
// Memory for the frame slabs, straight from the OS, never returned (see frame_alloc.hpp).
// Kept apart so the OS header stays in detail/.
#include <cstddef>
#include <new>

#include <sys/mman.h>

namespace corio::detail {

inline constexpr std::size_t max_slab_size = std::size_t(2) << 20;

// `size` bytes of zeroed memory, in small pages. Transparent huge pages were tried and
// dropped: on a VM whose host reclaims the guest's free memory (free page reporting), a
// huge page comes from a large free block the host has already taken back, and refilling
// it made a million sleepers 0.25-0.35 s slower after another process had used and freed
// 1.6 GB; small pages come from recently freed fragments and stayed at the same cost
// cold or warm. Prefaulting in bulk (MADV_POPULATE_WRITE) did not beat faulting on touch
// either: zeroing and accounting each page is the cost, not the trap.
inline void* map_frame_pages(std::size_t size) {
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANON, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return p;
}

} // namespace corio::detail
