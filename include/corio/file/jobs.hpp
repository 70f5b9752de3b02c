#pragma once
// What corio::file runs on the worker pool, and the buffers it hands over: the loop side
// (file.hpp, file_buffers.hpp) never makes a blocking call itself.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "corio/platform/file_ops.hpp"
#include "corio/loop.hpp"
#include "corio/outcome.hpp"
#include "corio/task.hpp"
#include "corio/thread_pool.hpp"

namespace corio::detail {

/// Gives s a size of n, contents to be overwritten; skips zero-filling where the library
/// lets us (a measurable share of a cached 256 KiB read).
inline void size_for_overwrite(std::string& s, std::size_t n) {
#if defined(__cpp_lib_string_resize_and_overwrite)
    s.resize_and_overwrite(n, [](char*, std::size_t k) { return k; });
#else
    s.resize(n);
#endif
}
inline std::string make_buffer(std::size_t n) {
    std::string s;
    size_for_overwrite(s, n);
    return s;
}

/// An empty string with room for n bytes, for a worker to size (read_chunk): the loop
/// thread allocates and frees the buffers a file reads into, never a worker. glibc
/// trims a worker's arena when another thread frees into it (a madvise per chunk or so,
/// and every page of the next chunk faulted in again), while one thread's malloc and free
/// of one size keep reusing the same memory. The zero-filling, when there is one, stays
/// on the worker: on the loop thread it held cached 256 KiB reads to 0.9x read(2).
inline std::string reserve_buffer(std::size_t n) {
    std::string s;
    s.reserve(n);
    return s;
}

/// Hands the last reference to a descriptor (and data still buffered for it) to a worker:
/// closing, and above all flushing, can block. Inline when no loop is running.
inline void release_in_background(std::shared_ptr<file_handle> h, std::shared_ptr<std::string> pending,
                                  std::uint64_t at, bool append) noexcept {
    if (!h) return;
    bool has_data = pending && !pending->empty();
    if (!has_data && h.use_count() > 1) return; // a job still running holds it and will close it
    auto job = [h = std::move(h), pending = std::move(pending), at, append, has_data]() mutable {
        if (has_data) {
            try { // nobody is left to tell: a caller who cares flushes or closes first
                if (append)
                    h->append_full(pending->data(), pending->size(), write_kind::flush);
                else
                    h->pwrite_full(pending->data(), pending->size(), at, write_kind::flush);
            } catch (...) {
            }
        }
        h.reset(); // closes here, on the worker, when it is the last reference
    };
    try {
        if (current_loop_ptr) {
            current_loop_ptr->service<thread_pool>().post_detached(std::move(job));
            return;
        }
    } catch (...) {
    }
    job();
}

// What file operations run on a worker. Plain functions taking their arguments by value:
// to_thread copies them into the job, and no capturing lambda appears inside a co_await
// expression (GCC 12 destroys such a temporary twice).
namespace file_jobs {

using handle_ptr = std::shared_ptr<file_handle>;

inline std::pair<handle_ptr, std::uint64_t> open(std::string path, open_mode m) {
    std::uint64_t pos = 0;
    auto h = std::make_shared<file_handle>(file_handle::open(path, m, pos));
    return {std::move(h), pos};
}

/// Reads n - have bytes at `at` into s from offset `have` on and returns s, cut to what
/// was read (less only at EOF). s comes from the loop thread with room for n bytes
/// (reserve_buffer), or sized n already (readinto's buffer).
inline std::string read_chunk(handle_ptr h, std::string s, std::size_t n, std::uint64_t at,
                              std::size_t have) {
    if (s.size() != n) size_for_overwrite(s, n);
    s.resize(have + h->read_full(s.data() + have, n - have, at));
    return s;
}

/// At most n bytes with one read: what a FIFO or device has now (readline must not wait
/// for a whole chunk to arrive before it looks for the end of the line).
inline std::string read_available(handle_ptr h, std::string s, std::size_t n) {
    s.resize(h->read_some(s.data(), n, 0));
    return s;
}

/// Everything from `at` to EOF, `have` bytes in.
inline std::string read_rest(handle_ptr h, std::uint64_t at, std::size_t have) {
    std::uint64_t size = h->seekable() ? h->size() : 0;
    std::string s = make_buffer(have + static_cast<std::size_t>(size > at ? size - at : 0) + 1);
    std::size_t got = have;
    for (;;) { // the size is a hint: the file may change while we read, and /proc says 0
        s.resize(std::max<std::size_t>(s.size(), got + 4096));
        std::size_t n = h->read_full(s.data() + got, s.size() - got, at + (got - have));
        got += n;
        if (got < s.size()) break;
        s.resize(s.size() * 2);
    }
    s.resize(got);
    return s;
}

/// Returns the position after the data (for a file that cannot seek, the bytes written so
/// far: only the file object's count).
inline std::uint64_t write_at(handle_ptr h, const std::string& data, std::uint64_t at, bool append,
                              write_kind kind) {
    if (!h->seekable()) {
        h->write_full(data.data(), data.size(), kind);
        return at + data.size();
    }
    if (append) return h->append_full(data.data(), data.size(), kind);
    h->pwrite_full(data.data(), data.size(), at, kind);
    return at + data.size();
}
inline std::uint64_t write_buffer(handle_ptr h, std::shared_ptr<std::string> buf, std::uint64_t at,
                                  bool append) {
    return write_at(std::move(h), *buf, at, append, write_kind::flush);
}
inline std::uint64_t write_string(handle_ptr h, std::string data, std::uint64_t at, bool append) {
    return write_at(std::move(h), data, at, append, write_kind::direct);
}

inline std::uint64_t size(handle_ptr h) { return h->size(); }
inline void sync(handle_ptr h) { h->sync(); }
inline void close(handle_ptr h) { h->close(); }

inline std::string read_file(std::string path) { return read_whole_file(path); }

/// The read-ahead of the next chunk, run as a spawned task so it proceeds while nobody
/// awaits it. It keeps its error to itself: only a read that uses it may see it.
inline task<outcome<std::string>> read_ahead(handle_ptr h, std::string buf, std::size_t n,
                                             std::uint64_t at) {
    outcome<std::string> out;
    try {
        out.set_value(co_await to_thread(read_chunk, std::move(h), std::move(buf), n, at, 0));
    } catch (...) {
        out.set_exception(std::current_exception());
    }
    co_return std::move(out);
}
inline void write_file(std::string path, std::string data) { write_whole_file(path, data); }

} // namespace file_jobs

} // namespace corio::detail
