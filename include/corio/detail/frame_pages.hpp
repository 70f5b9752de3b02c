#pragma once
// Memory for the frame slabs, never returned (see frame_alloc.hpp). It comes from the
// aligned operator new rather than from the OS directly, so the core headers that
// allocate frames include no OS header; blocks this large are mapped by the C library
// in small pages all the same, and a slab is page-aligned so that every block carved
// from it keeps the alignment frames need.
#include <cstddef>
#include <new>

namespace corio::detail {

inline constexpr std::size_t max_slab_size = std::size_t(2) << 20;
inline constexpr std::size_t slab_alignment = 4096;

inline void* map_frame_pages(std::size_t size) { return ::operator new(size, std::align_val_t(slab_alignment)); }

} // namespace corio::detail
