#pragma once
// Async files in aiofiles' shape. Regular files are not pollable, so every system call
// runs on the loop's worker pool (thread_pool.hpp) and the loop keeps running meanwhile.
//
//   corio::file f = co_await corio::open("meo.txt", "w");
//   co_await f.write("meoooow");
//   co_await f.close();
//   std::string s = co_await corio::read_file("meo.txt");
//
// Modes are Python's ("r", "w", "a", "x", each with an optional "+", and "b" or "t").
// Text and binary behave the same: bytes in, bytes out, no newline translation.
//
// The file object keeps its own position and uses pread/pwrite at it, with a 64 KiB read
// buffer (readline does not cost a round trip per line) and a 64 KiB write buffer
// (flushed when full, by flush(), sync(), seek(), size(), close() and the destructor).
// Reads and writes of 64 KiB or more go straight to the worker without being copied
// through the buffers. Sequential reads of one large size are read ahead two chunks, so
// streaming a file holds at most three chunks (the caller's and two ahead); readinto()
// streams through one reused buffer with no allocation per chunk. Data read ahead is the
// file as it was when read; any write or seek on this file object discards it.
//
// In append mode writes go to the end of the file whatever the position; as in Python,
// tell() is the end of the file once the data has been flushed, and while it sits in the
// buffer, the position plus what is buffered.
//
// One operation at a time per file: starting a second while one is suspended throws
// std::logic_error (as two concurrent readers on a socket do).
//
// Cancellation never corrupts the file object:
// - A cancelled read leaves the position and the buffer as they were.
// - A write that fits in the buffer completes without suspending, so it is never
//   cancelled. A cancelled write that was writing its data directly does not advance the
//   position; any prefix of that data may or may not be on disk.
// - A cancelled flush (including one a write, seek or close started) keeps the buffered
//   data and the position: the next flush writes the same bytes at the same offsets
//   again. In append mode that retry could duplicate them, so there the pending data is
//   dropped instead and the position goes back to the end of what was flushed; it may or
//   may not have reached the file.
// - A write cancelled while it was running finishes on its worker in the background, so
//   its bytes may land after the file's next operations.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "corio/detail/file_ops.hpp"
#include "corio/errors.hpp"
#include "corio/loop.hpp"
#include "corio/outcome.hpp"
#include "corio/spawn.hpp"
#include "corio/task.hpp"
#include "corio/thread_pool.hpp"

namespace corio {

enum class whence { set, cur, end }; // os.SEEK_SET, SEEK_CUR, SEEK_END

class file;
task<file> open(std::string path, std::string mode);

namespace detail {

// Gives s a size of n, contents to be overwritten; skips zero-filling where the library
// lets us (a measurable share of a cached 256 KiB read).
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

// An empty string with room for n bytes, for a worker to size (read_chunk): the loop
// thread allocates and frees the buffers a file reads into, never a worker. glibc
// trims a worker's arena when another thread frees into it (a madvise per chunk or so,
// and every page of the next chunk faulted in again), while one thread's malloc and free
// of one size keep reusing the same memory. The zero-filling, when there is one, stays
// on the worker: on the loop thread it held cached 256 KiB reads to 0.9x read(2).
inline std::string reserve_buffer(std::size_t n) {
    std::string s;
    s.reserve(n);
    return s;
}

// Hands the last reference to a descriptor (and data still buffered for it) to a worker:
// closing, and above all flushing, can block. Inline when no loop is running.
inline void release_in_background(std::shared_ptr<file_handle> h, std::shared_ptr<std::string> pending,
                                  std::uint64_t at, bool append) noexcept {
    if (!h) return;
    bool has_data = pending && !pending->empty();
    if (!has_data && h.use_count() > 1) return; // a job still running holds it and will close it
    auto job = [h = std::move(h), pending = std::move(pending), at, append, has_data]() mutable {
        if (has_data) {
            try {
                if (append)
                    h->append_full(pending->data(), pending->size());
                else
                    h->pwrite_full(pending->data(), pending->size(), at);
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

// Reads n - have bytes at `at` into s from offset `have` on and returns s, cut to what
// was read (less only at EOF). s comes from the loop thread with room for n bytes
// (reserve_buffer), or sized n already (readinto's buffer).
inline std::string read_chunk(handle_ptr h, std::string s, std::size_t n, std::uint64_t at,
                              std::size_t have) {
    if (s.size() != n) size_for_overwrite(s, n);
    s.resize(have + h->pread_full(s.data() + have, n - have, at));
    return s;
}

// Everything from `at` to EOF, `have` bytes in.
inline std::string read_rest(handle_ptr h, std::uint64_t at, std::size_t have) {
    std::uint64_t size = h->size();
    std::string s = make_buffer(have + static_cast<std::size_t>(size > at ? size - at : 0) + 1);
    std::size_t got = have;
    for (;;) { // the size is a hint: the file may change while we read
        got += h->pread_full(s.data() + got, s.size() - got, at + (got - have));
        if (got < s.size()) break;
        s.resize(s.size() * 2);
    }
    s.resize(got);
    return s;
}

// Returns the position after the data.
inline std::uint64_t write_at(handle_ptr h, const std::string& data, std::uint64_t at, bool append) {
    if (append) return h->append_full(data.data(), data.size());
    h->pwrite_full(data.data(), data.size(), at);
    return at + data.size();
}
inline std::uint64_t write_buffer(handle_ptr h, std::shared_ptr<std::string> buf, std::uint64_t at,
                                  bool append) {
    return write_at(std::move(h), *buf, at, append);
}
inline std::uint64_t write_string(handle_ptr h, std::string data, std::uint64_t at, bool append) {
    return write_at(std::move(h), data, at, append);
}

inline std::uint64_t size(handle_ptr h) { return h->size(); }
inline void sync(handle_ptr h) { h->sync(); }
inline void close(handle_ptr h) { h->close(); }

inline std::string read_file(std::string path) { return read_whole_file(path); }

// The read-ahead of the next chunk, run as a spawned task so it proceeds while nobody
// awaits it. It keeps its error to itself: only a read that uses it may see it.
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

} // namespace detail

class file {
public:
    static constexpr std::size_t buffer_size = 64 * 1024;

    file() noexcept = default;
    file(file&& o) noexcept { take(std::move(o)); }
    file& operator=(file&& o) noexcept {
        if (this != &o) {
            release();
            take(std::move(o));
        }
        return *this;
    }
    // Flushes and closes on a worker, fire-and-forget: never blocks the loop.
    ~file() { release(); }

    bool is_open() const noexcept { return h_ != nullptr; }
    const std::string& path() const noexcept { return path_; }
    const std::string& mode() const noexcept { return mode_; }
    bool readable() const noexcept { return mode_bits_.readable; }
    bool writable() const noexcept { return mode_bits_.writable; }

    // The position the next read or write starts at (buffered writes included).
    std::uint64_t tell() const noexcept { return pos_; }

    // Up to n bytes; fewer only at end of file; empty at end of file.
    task<std::string> read(std::size_t n) {
        op_guard g(*this);
        if (n > avail() && n - avail() >= buffer_size) co_return co_await read_large(n);
        co_await prepare_read();
        while (avail() < n)
            if (co_await fill() == 0) break;
        co_return take_buffered(std::min(n, avail()));
    }

    // Python's readinto: reads up to buf.size() bytes into buf (fewer only at end of file)
    // and returns how many; buf keeps its size, and what lies past the count is
    // unspecified. Reusing one buffer saves an allocation per call, so this is the fastest
    // way to stream a file. Cancelled, it leaves the position alone but may leave buf
    // empty (its storage was with the worker).
    task<std::size_t> readinto(std::string& buf) {
        op_guard g(*this);
        std::size_t n = buf.size();
        std::string data;
        bool from_ahead = read_ahead_matches(n);
        if (from_ahead) {
            data = co_await next_read_ahead();
        } else {
            co_await prepare_read();
            if (n <= avail() || n - avail() < buffer_size) { // small: through the read buffer
                while (avail() < n)
                    if (co_await fill() == 0) break;
                std::size_t k = std::min(n, avail());
                if (k) std::memcpy(buf.data(), rbuf_.data() + rpos_, k);
                rpos_ += k;
                pos_ += k;
                if (rpos_ == rbuf_.size()) drop_read_buffer();
                co_return k;
            }
            data = co_await read_direct(n, std::move(buf));
        }
        // The filled buffer goes to the caller, the caller's becomes the next read-ahead's.
        std::size_t count = data.size();
        spare_ = std::move(buf);
        buf = std::move(data);
        buf.resize(n);
        if (from_ahead)
            continue_read_ahead(count == n);
        else
            start_read_ahead(count == n, n);
        co_return count;
    }

    // Everything from the position to the end of the file.
    task<std::string> read() {
        op_guard g(*this);
        co_await prepare_read();
        std::size_t have = avail();
        std::uint64_t at = pos_ + have;
        std::string out = co_await to_thread(detail::file_jobs::read_rest, h_, at, have);
        if (have) std::memcpy(out.data(), rbuf_.data() + rpos_, have);
        drop_read_buffer();
        pos_ += out.size();
        co_return out;
    }

    // One line including its '\n' (the last may lack it); empty at end of file.
    task<std::string> readline() {
        op_guard g(*this);
        co_await prepare_read();
        co_return co_await readline_unguarded();
    }

    // Line iteration: `while (auto line = co_await f.next_line()) use(*line);`
    task<std::optional<std::string>> next_line() {
        op_guard g(*this);
        co_await prepare_read();
        std::string line = co_await readline_unguarded();
        if (line.empty()) co_return std::nullopt;
        co_return line;
    }

    task<std::vector<std::string>> readlines() {
        op_guard g(*this);
        co_await prepare_read();
        std::vector<std::string> lines;
        for (;;) {
            std::string line = co_await readline_unguarded();
            if (line.empty()) co_return lines;
            lines.push_back(std::move(line));
        }
    }

    // Writes all of data at the position (at the end in append mode); returns its size.
    task<std::size_t> write(std::string data) {
        op_guard g(*this);
        check_open();
        if (!writable()) detail::throw_file_error(EBADF, "write (not open for writing)", path_);
        drop_read_ahead();
        drop_read_buffer();
        std::size_t n = data.size();
        if (!wbuf_) wbuf_ = std::make_shared<std::string>();
        if (wbuf_->size() + n > buffer_size) co_await flush_buffer();
        if (n < buffer_size) {
            if (wbuf_->capacity() < buffer_size) wbuf_->reserve(buffer_size);
            wbuf_->append(data);
            pos_ += n;
            co_return n;
        }
        pos_ = co_await to_thread(detail::file_jobs::write_string, h_, std::move(data), pos_,
                                  mode_bits_.append);
        co_return n;
    }

    // Hands buffered data to the OS (not to the disk: see sync).
    task<void> flush() {
        op_guard g(*this);
        check_open();
        co_await flush_buffer();
    }

    // flush, then fsync(2).
    task<void> sync() {
        op_guard g(*this);
        check_open();
        co_await flush_buffer();
        co_await to_thread(detail::file_jobs::sync, h_);
    }

    // Moves the position (Python's seek); returns the new one. Past the end is allowed
    // (a later write leaves a hole); before the start throws std::invalid_argument.
    task<std::uint64_t> seek(std::int64_t offset, whence from = whence::set) {
        op_guard g(*this);
        check_open();
        co_await flush_buffer();
        std::int64_t base = 0;
        if (from == whence::cur) base = static_cast<std::int64_t>(pos_);
        if (from == whence::end)
            base = static_cast<std::int64_t>(co_await to_thread(detail::file_jobs::size, h_));
        std::int64_t target = base + offset;
        if (target < 0)
            throw std::invalid_argument("corio::file::seek: negative position " + std::to_string(target) +
                                        " in '" + path_ + "'");
        std::uint64_t t = static_cast<std::uint64_t>(target);
        if (t != pos_) drop_read_ahead();
        std::uint64_t start = pos_ - rpos_; // keep the read buffer when landing inside it
        if (t >= start && t - start <= rbuf_.size())
            rpos_ = static_cast<std::size_t>(t - start);
        else
            drop_read_buffer();
        pos_ = t;
        co_return pos_;
    }

    // The file's size, buffered writes included.
    task<std::uint64_t> size() {
        op_guard g(*this);
        check_open();
        co_await flush_buffer();
        co_return co_await to_thread(detail::file_jobs::size, h_);
    }

    // Flushes and closes, reporting errors from either. Closing twice is harmless. Once
    // close has started the file is closed, even if it fails or is cancelled (the
    // descriptor then goes to a worker to be flushed and closed in the background).
    task<void> close() {
        if (!h_) co_return;
        op_guard g(*this);
        std::exception_ptr flush_error;
        try {
            co_await settle_read_ahead(); // its jobs hold the descriptor too
            co_await flush_buffer();
        } catch (...) {
            flush_error = std::current_exception();
        }
        drop_read_ahead();
        std::shared_ptr<detail::file_handle> h = std::move(h_);
        std::shared_ptr<std::string> pending = std::move(wbuf_);
        std::uint64_t at = pos_ - (pending ? pending->size() : 0);
        drop_read_buffer();
        if (flush_error) {
            bool cancelled = false;
            try {
                std::rethrow_exception(flush_error);
            } catch (const cancelled_error&) {
                cancelled = true;
            } catch (...) {
            }
            if (!cancelled) pending.reset(); // it failed to write: do not try again
            detail::release_in_background(std::move(h), std::move(pending), at, mode_bits_.append);
            std::rethrow_exception(flush_error);
        }
        if (h.use_count() > 1) co_return; // a cancelled job still runs: it closes last
        try {
            co_await to_thread(detail::file_jobs::close, h);
        } catch (const cancelled_error&) {
            detail::release_in_background(std::move(h), nullptr, 0, false);
            throw;
        }
    }

private:
    friend task<file> open(std::string path, std::string mode);

    file(std::shared_ptr<detail::file_handle> h, std::string path, std::string mode,
         detail::open_mode m, std::uint64_t pos) noexcept
        : h_(std::move(h)), path_(std::move(path)), mode_(std::move(mode)), mode_bits_(m), pos_(pos) {}

    struct op_guard {
        file& f;
        explicit op_guard(file& owner) : f(owner) {
            if (f.busy_)
                throw std::logic_error("corio: concurrent operations on file '" + f.path_ + "'");
            f.busy_ = true;
        }
        ~op_guard() { f.busy_ = false; }
        op_guard(const op_guard&) = delete;
        op_guard& operator=(const op_guard&) = delete;
    };

    void check_open() const {
        if (!h_) throw std::logic_error("corio: I/O operation on closed file '" + path_ + "'");
    }

    std::size_t avail() const noexcept { return rbuf_.size() - rpos_; }
    void drop_read_buffer() noexcept {
        rbuf_.clear();
        rpos_ = 0;
    }
    std::string take_buffered(std::size_t n) {
        std::string out(rbuf_, rpos_, n);
        rpos_ += n;
        pos_ += n;
        if (rpos_ == rbuf_.size()) drop_read_buffer();
        return out;
    }

    task<void> prepare_read() {
        check_open();
        drop_read_ahead();
        if (!readable()) detail::throw_file_error(EBADF, "read (not open for reading)", path_);
        co_await flush_buffer();
    }

    // Appends the next chunk of the file to the read buffer; returns its size (0: EOF).
    task<std::size_t> fill() {
        std::uint64_t at = pos_ + avail();
        // Zero-filled here, not on the worker, unlike read-ahead buffers: the loop waits
        // for this one anyway, and a worker filling memory the loop thread last touched
        // made small reads (read(100)) 25% slower.
        std::string chunk = co_await to_thread(detail::file_jobs::read_chunk, h_,
                                               detail::make_buffer(buffer_size), buffer_size, at, 0);
        std::size_t n = chunk.size();
        if (rpos_ == rbuf_.size()) {
            rbuf_ = std::move(chunk);
            rpos_ = 0;
        } else {
            rbuf_.erase(0, rpos_);
            rpos_ = 0;
            rbuf_ += chunk;
        }
        co_return n;
    }

    // A large read. Sequential reads of one size (streaming a file in chunks) are read
    // ahead: workers are already reading the next chunks while the caller handles this
    // one, so the round trips to the pool drop out of the throughput.
    task<std::string> read_large(std::size_t n) {
        if (read_ahead_matches(n)) {
            std::string out = co_await next_read_ahead();
            continue_read_ahead(out.size() == n);
            co_return out;
        }
        co_await prepare_read();
        std::string out = co_await read_direct(n, detail::reserve_buffer(n));
        start_read_ahead(out.size() == n, n);
        co_return out;
    }

    bool read_ahead_matches(std::size_t n) const noexcept {
        return ahead_count_ && ahead_at_ == pos_ && ahead_size_ == n && avail() == 0 && h_;
    }
    // The next chunk read ahead, at the position; advances past it.
    task<std::string> next_read_ahead() {
        task_handle<outcome<std::string>> current = std::move(ahead_[0]);
        for (std::size_t i = 1; i < ahead_count_; ++i) ahead_[i - 1] = std::move(ahead_[i]);
        ahead_[--ahead_count_] = {};
        ahead_at_ += ahead_size_;
        std::string out;
        try {
            out = (co_await current).value(); // cancelled: that read-ahead goes too
        } catch (...) {
            drop_read_ahead(); // the position stays: what follows it is not needed yet
            throw;
        }
        pos_ += out.size();
        co_return out;
    }
    void start_read_ahead(bool full, std::size_t n) {
        if (!full) return;
        ahead_at_ = pos_;
        ahead_size_ = n;
        top_up_read_ahead();
    }
    void continue_read_ahead(bool full) {
        if (full)
            top_up_read_ahead();
        else
            drop_read_ahead(); // end of file
    }
    void top_up_read_ahead() {
        if (ahead_size_ > read_ahead_max_chunk) return;
        std::size_t depth = std::clamp<std::size_t>(read_ahead_bytes / ahead_size_, 1, read_ahead_depth);
        for (; ahead_count_ < depth; ++ahead_count_) {
            std::string buf = spare_.capacity() >= ahead_size_ ? std::move(spare_)
                                                               : detail::reserve_buffer(ahead_size_);
            spare_ = std::string();
            ahead_[ahead_count_] = spawn(detail::file_jobs::read_ahead(
                h_, std::move(buf), ahead_size_, ahead_at_ + ahead_count_ * ahead_size_));
        }
    }
    // Cancels the read-ahead and waits until it has let go of the descriptor.
    task<void> settle_read_ahead() {
        while (ahead_count_) {
            task_handle<outcome<std::string>> pending = std::move(ahead_[--ahead_count_]);
            pending.cancel();
            co_await pending.wait(); // throws only if the caller is cancelled
        }
    }
    // Before anything that moves the position or changes the file: its data may be stale.
    void drop_read_ahead() noexcept {
        for (; ahead_count_; --ahead_count_) {
            ahead_[ahead_count_ - 1].cancel();
            ahead_[ahead_count_ - 1] = {};
        }
    }

    // What is buffered plus one pread for the rest, into buf (see read_chunk), n bytes in all.
    task<std::string> read_direct(std::size_t n, std::string buf) {
        std::size_t have = avail();
        std::uint64_t at = pos_ + have;
        std::string out = co_await to_thread(detail::file_jobs::read_chunk, h_, std::move(buf), n, at, have);
        if (have) std::memcpy(out.data(), rbuf_.data() + rpos_, have);
        drop_read_buffer();
        pos_ += out.size();
        co_return out;
    }

    task<std::string> readline_unguarded() {
        std::size_t scanned = 0; // bytes past rpos_ known to hold no '\n'
        for (;;) {
            std::size_t nl = rbuf_.find('\n', rpos_ + scanned);
            if (nl != std::string::npos) co_return take_buffered(nl - rpos_ + 1);
            scanned = avail();
            if (co_await fill() == 0) co_return take_buffered(avail());
        }
    }

    task<void> flush_buffer() {
        if (!wbuf_ || wbuf_->empty()) co_return;
        std::size_t n = wbuf_->size();
        std::uint64_t at = pos_ - n;
        bool append = mode_bits_.append;
        try {
            pos_ = co_await to_thread(detail::file_jobs::write_buffer, h_, wbuf_, at, append);
        } catch (const cancelled_error&) {
            // A worker may still be reading the old buffer: replace it, never touch it.
            if (append) {
                wbuf_ = std::make_shared<std::string>();
                pos_ = at;
            } else {
                wbuf_ = std::make_shared<std::string>(*wbuf_);
            }
            throw;
        }
        wbuf_->clear(); // the worker is done with it (its job ended before we resumed)
    }

    void take(file&& o) noexcept {
        h_ = std::move(o.h_);
        path_ = std::move(o.path_);
        mode_ = std::move(o.mode_);
        mode_bits_ = o.mode_bits_;
        pos_ = o.pos_;
        rbuf_ = std::move(o.rbuf_);
        rpos_ = std::exchange(o.rpos_, 0);
        wbuf_ = std::move(o.wbuf_);
        for (std::size_t i = 0; i < read_ahead_depth; ++i) ahead_[i] = std::move(o.ahead_[i]);
        spare_ = std::move(o.spare_);
        ahead_count_ = std::exchange(o.ahead_count_, 0);
        ahead_at_ = o.ahead_at_;
        ahead_size_ = o.ahead_size_;
        o.rbuf_.clear();
    }

    void release() noexcept {
        drop_read_ahead();
        if (!h_) return;
        std::uint64_t at = pos_ - (wbuf_ ? wbuf_->size() : 0);
        detail::release_in_background(std::move(h_), std::move(wbuf_), at, mode_bits_.append);
        drop_read_buffer();
    }

    std::shared_ptr<detail::file_handle> h_; // shared with jobs in flight
    std::string path_;
    std::string mode_;
    detail::open_mode mode_bits_;
    std::uint64_t pos_ = 0;             // logical position
    std::string rbuf_;                  // file bytes [pos_ - rpos_, pos_ - rpos_ + size)
    std::size_t rpos_ = 0;              // consumed part of rbuf_
    std::shared_ptr<std::string> wbuf_; // bytes to write at pos_ - size; never shared with a
                                        // job once it has returned
    // Up to 1 MiB ahead in at most 4 chunks (at least one), and none for chunks over
    // 8 MiB, which amortise a round trip on their own. Several chunks, because a wake-up
    // can cost more than reading one cached chunk (tens of microseconds on a VM whose
    // idle vCPUs halt): the queue keeps the workers busy through it.
    static constexpr std::size_t read_ahead_depth = 4;
    static constexpr std::size_t read_ahead_bytes = 1 << 20;
    static constexpr std::size_t read_ahead_max_chunk = 8 << 20;
    task_handle<outcome<std::string>> ahead_[read_ahead_depth]; // chunks from ahead_at_ on
    std::size_t ahead_count_ = 0;
    std::uint64_t ahead_at_ = 0;
    std::size_t ahead_size_ = 0;
    std::string spare_; // a buffer readinto gave back, for the next read-ahead
    bool busy_ = false;
};

// aiofiles.open / Python's open. A bad mode throws std::invalid_argument; failing to
// open (missing file, permission, a directory) throws std::system_error naming the path.
inline task<file> open(std::string path, std::string mode = "r") {
    detail::open_mode m = detail::parse_mode(mode);
    auto [h, pos] = co_await to_thread(detail::file_jobs::open, path, m);
    co_return file(std::move(h), std::move(path), std::move(mode), m, pos);
}

// The whole file, in one worker round trip.
inline task<std::string> read_file(std::string path) {
    co_return co_await to_thread(detail::file_jobs::read_file, std::move(path));
}

// Creates or truncates `path` and writes data, in one worker round trip. Cancelled while
// running, the write still completes in the background.
inline task<void> write_file(std::string path, std::string data) {
    co_await to_thread(detail::file_jobs::write_file, std::move(path), std::move(data));
}

} // namespace corio
