#pragma once
// Async files in aiofiles' shape. Regular files are not pollable, so every system call
// runs on the loop's worker pool (thread_pool.hpp) and the loop keeps running meanwhile.
// On io_uring (event_loop::completions() is not null) the reads, writes at offsets and
// fsync of a file that can seek go on the ring instead, with no worker thread and no copy
// (the kernel reads into the string the caller gets); open, stat, close and appending
// writes stay on the pool.
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
// Reads and writes of 64 KiB or more go straight to the worker (or the ring) without being
// copied through the buffers. On the pool, sequential reads of one large size are read
// ahead two chunks, so streaming a file holds at most three chunks (the caller's and two
// ahead); readinto() streams through one reused buffer with no allocation per chunk. Data
// read ahead is the file as it was when read; any write or seek on this file object
// discards it.
//
// Files that cannot seek (FIFOs, pipes, sockets, terminals, character devices such as
// /dev/zero; seekable() tells) are read and written with read/write at their current
// position, with no read-ahead; readline() returns a line as soon as it has arrived, and
// read() reads until the writer closes. seek() and tell() throw std::system_error
// (ESPIPE). A cancelled read of such a file may lose the bytes it was receiving.
//
// In append mode writes go to the end of the file whatever the position; as in Python,
// tell() is the end of the file once the data has been flushed, and while it sits in the
// buffer, the position plus what is buffered.
//
// A full disk (ENOSPC) or a file size limit (EFBIG) shows up where buffered data is
// written: a later write() that fills the buffer, flush(), sync() or close(). The error is
// a file_write_error (a std::system_error) saying how many bytes did not reach the file;
// they stay buffered for the next flush, and close() gives them up. The destructor cannot
// report anything: flush or close first to learn of a failure.
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
//   again. In append mode (and on a file that cannot seek) that retry could duplicate
//   them, so there the pending data is dropped instead and the position goes back to the
//   end of what was flushed; it may or may not have reached the file.
// - A write cancelled while it was running finishes on its worker in the background, so
//   its bytes may land after the file's next operations. On io_uring a cancelled
//   operation returns only once the kernel is done with it: nothing lands later.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "corio/file/buffers.hpp"
#include "corio/file/jobs.hpp"
#include "corio/platform/file_ops.hpp"
#include "corio/errors.hpp"
#include "corio/spawn.hpp"
#include "corio/task.hpp"
#include "corio/thread_pool.hpp"

namespace corio {

enum class whence { set, cur, end }; // os.SEEK_SET, SEEK_CUR, SEEK_END

class file;
task<file> open(std::string path, std::string mode);

class file : private detail::file_base {
public:
    using file_base::buffer_size;

    file() noexcept = default;
    file(file&& o) noexcept { take(std::move(o)); }
    file& operator=(file&& o) noexcept {
        if (this != &o) {
            release();
            take(std::move(o));
        }
        return *this;
    }
    /// Flushes and closes on a worker, fire-and-forget: never blocks the loop.
    ~file() { release(); }

    bool is_open() const noexcept { return h_ != nullptr; }
    /// The descriptor (-1 once closed), for stream::sendfile and system calls of your own;
    /// the file object's position and buffers know nothing of what is done with it.
    int native_handle() const noexcept { return h_ ? h_->fd() : -1; }
    const std::string& path() const noexcept { return path_; }
    const std::string& mode() const noexcept { return mode_; }
    bool readable() const noexcept { return mode_bits_.readable; }
    bool writable() const noexcept { return mode_bits_.writable; }
    /// False for a FIFO, pipe, socket, terminal or character device.
    bool seekable() const noexcept { return seekable_; }

    /// The position the next read or write starts at (buffered writes included). Throws
    /// std::system_error (ESPIPE) for a file that cannot seek.
    std::uint64_t tell() const {
        check_seekable("tell");
        return pos_;
    }

    /// Up to n bytes; fewer only at end of file; empty at end of file.
    task<std::string> read(std::size_t n) {
        op_guard g(*this);
        if (n > avail() && n - avail() >= buffer_size) co_return co_await read_large(n);
        co_await prepare_read();
        while (avail() < n)
            if (co_await fill() == 0) break;
        co_return take_buffered(std::min(n, avail()));
    }

    /// Python's readinto: reads up to buf.size() bytes into buf (fewer only at end of file)
    /// and returns how many; buf keeps its size, and what lies past the count is
    /// unspecified. Reusing one buffer saves an allocation per call, so this is the fastest
    /// way to stream a file. Cancelled, it leaves the position alone but may leave buf
    /// empty (its storage was with the worker).
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

    /// Everything from the position to the end of the file.
    task<std::string> read() {
        op_guard g(*this);
        co_await prepare_read();
        std::size_t have = avail();
        std::uint64_t at = pos_ + have;
        std::string out;
        if (detail::completion_port* port = ring())
            out = co_await ring_read_rest(*port, at, have);
        else
            out = co_await to_thread(detail::file_jobs::read_rest, h_, at, have);
        if (have) std::memcpy(out.data(), rbuf_.data() + rpos_, have);
        drop_read_buffer();
        pos_ += out.size();
        co_return out;
    }

    /// One line including its '\n' (the last may lack it); empty at end of file.
    task<std::string> readline() {
        op_guard g(*this);
        co_await prepare_read();
        co_return co_await readline_unguarded();
    }

    /// Line iteration: `while (auto line = co_await f.next_line()) use(*line);`
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

    /// Writes all of data at the position (at the end in append mode); returns its size.
    /// Data that fits in the buffer is only buffered: a failure to write it (a full disk)
    /// is reported by the write that next fills the buffer, or by flush(), sync() or
    /// close(), as with aiofiles.
    task<std::size_t> write(std::string data) {
        op_guard g(*this);
        check_open();
        if (!writable()) detail::throw_file_error(EBADF, "write (not open for writing)", path_);
        drop_read_ahead();
        if (seekable_) drop_read_buffer(); // a FIFO's or terminal's input is not re-read
        std::size_t n = data.size();
        if (!wbuf_) wbuf_ = std::make_shared<std::string>();
        if (wbuf_->size() + n > buffer_size) co_await flush_buffer();
        if (n < buffer_size) {
            if (wbuf_->capacity() < buffer_size) wbuf_->reserve(buffer_size);
            wbuf_->append(data);
            pos_ += n;
            co_return n;
        }
        if (detail::completion_port* port = ring_for_writes())
            pos_ = co_await write_on_port(*port, std::move(data));
        else
            pos_ = co_await to_thread(detail::file_jobs::write_string, h_, std::move(data), pos_,
                                      mode_bits_.append);
        co_return n;
    }

    /// Hands buffered data to the OS (not to the disk: see sync). Where a buffered writer
    /// learns that its data did not fit: file_write_error says how many bytes did not
    /// reach the file.
    task<void> flush() {
        op_guard g(*this);
        check_open();
        co_await flush_buffer();
    }

    /// flush, then fsync(2), which may report a failure the OS met writing earlier data.
    task<void> sync() {
        op_guard g(*this);
        check_open();
        co_await flush_buffer();
        if (detail::completion_port* port = event_loop::current().completions())
            co_await sync_on_port(*port);
        else
            co_await to_thread(detail::file_jobs::sync, h_);
    }

    /// Moves the position (Python's seek); returns the new one. Past the end is allowed
    /// (a later write leaves a hole); before the start throws std::invalid_argument. A
    /// file that cannot seek throws std::system_error (ESPIPE).
    task<std::uint64_t> seek(std::int64_t offset, whence from = whence::set) {
        op_guard g(*this);
        check_open();
        check_seekable("seek");
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

    /// The file's size, buffered writes included.
    task<std::uint64_t> size() {
        op_guard g(*this);
        check_open();
        co_await flush_buffer();
        co_return co_await to_thread(detail::file_jobs::size, h_);
    }

    /// Flushes and closes, reporting errors from either. Closing twice is harmless. Once
    /// close has started the file is closed, even if it fails or is cancelled (the
    /// descriptor then goes to a worker to be flushed and closed in the background).
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

    file(std::shared_ptr<detail::file_handle> h, std::string path, std::string mode, detail::open_mode m,
         std::uint64_t pos) noexcept
        : file_base(std::move(h), std::move(path), std::move(mode), m, pos) {}
};

/// aiofiles.open / Python's open. A bad mode throws std::invalid_argument; failing to
/// open (missing file, permission, a directory) throws std::system_error naming the path.
inline task<file> open(std::string path, std::string mode = "r") {
    detail::open_mode m = detail::parse_mode(mode);
    auto [h, pos] = co_await to_thread(detail::file_jobs::open, path, m);
    co_return file(std::move(h), std::move(path), std::move(mode), m, pos);
}

/// The whole file, in one worker round trip.
inline task<std::string> read_file(std::string path) {
    co_return co_await to_thread(detail::file_jobs::read_file, std::move(path));
}

/// Creates or truncates `path` and writes data, in one worker round trip. Cancelled while
/// running, the write still completes in the background.
inline task<void> write_file(std::string path, std::string data) {
    co_await to_thread(detail::file_jobs::write_file, std::move(path), std::move(data));
}

} // namespace corio
