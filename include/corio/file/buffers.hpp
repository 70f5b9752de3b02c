#pragma once
// The loop side of corio::file: its position, the read and write buffers, the read-ahead
// of sequential large reads, and the rules that keep them consistent through
// cancellation and failure (file.hpp states those rules; the public calls live there).
//
// When the loop has a completion port (io_uring) and the file can seek, reads, writes at
// offsets and fsync go on the port (port_awaiter) instead of the worker pool, into and
// out of the very strings the caller gets or gave; they are not read ahead, since the
// kernel copies a cached chunk inside the loop's own io_uring_enter. Appending writes
// (which need the end of the file afterwards) stay on the pool.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "corio/detail/port_awaiter.hpp"
#include "corio/file/jobs.hpp"
#include "corio/errors.hpp"
#include "corio/outcome.hpp"
#include "corio/spawn.hpp"
#include "corio/task.hpp"
#include "corio/thread_pool.hpp"

namespace corio::detail {

class file_base {
public:
    static constexpr std::size_t buffer_size = 64 * 1024;

protected:
    file_base() noexcept = default;
    file_base(std::shared_ptr<file_handle> h, std::string path, std::string mode, open_mode m,
              std::uint64_t pos) noexcept
        : h_(std::move(h)), path_(std::move(path)), mode_(std::move(mode)), mode_bits_(m), pos_(pos) {
        seekable_ = !h_ || h_->seekable();
    }
    ~file_base() = default;

    struct op_guard {
        file_base& f;
        explicit op_guard(file_base& owner) : f(owner) {
            if (f.busy_) throw std::logic_error("corio: concurrent operations on file '" + f.path_ + "'");
            f.busy_ = true;
        }
        ~op_guard() { f.busy_ = false; }
        op_guard(const op_guard&) = delete;
        op_guard& operator=(const op_guard&) = delete;
    };

    void check_open() const {
        if (!h_) throw std::logic_error("corio: I/O operation on closed file '" + path_ + "'");
    }
    /// Python's io.UnsupportedOperation, as the OS words it (ESPIPE, "Illegal seek").
    void check_seekable(const char* what) const {
        if (!seekable_)
            throw std::system_error(ESPIPE, std::system_category(),
                                    std::string(what) + " '" + path_ +
                                        "': not seekable (a FIFO, pipe, socket, terminal or device)");
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
        if (!mode_bits_.readable) throw_file_error(EBADF, "read (not open for reading)", path_);
        co_await flush_buffer();
    }

    /// Appends the next chunk of the file to the read buffer; returns its size (0: EOF).
    /// A file that cannot seek gives what it has now: a line that has arrived is not held
    /// back until a whole chunk follows it.
    task<std::size_t> fill() {
        std::uint64_t at = pos_ + avail();
        // Zero-filled here, not on the worker, unlike read-ahead buffers: the loop waits
        // for this one anyway, and a worker filling memory the loop thread last touched
        // made small reads (read(100)) 25% slower.
        // Two statements, not ?: with a co_await in each arm, which GCC 12 miscompiles
        // (the string is freed while still in use).
        std::string chunk;
        if (completion_port* port = ring())
            chunk = co_await ring_read(*port, make_buffer(buffer_size), 0, buffer_size, at);
        else if (seekable_)
            chunk = co_await to_thread(file_jobs::read_chunk, h_, make_buffer(buffer_size), buffer_size, at, 0);
        else
            chunk = co_await to_thread(file_jobs::read_available, h_, make_buffer(buffer_size), buffer_size);
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

    /// A large read. Sequential reads of one size (streaming a file in chunks) are read
    /// ahead: workers are already reading the next chunks while the caller handles this
    /// one, so the round trips to the pool drop out of the throughput.
    task<std::string> read_large(std::size_t n) {
        if (read_ahead_matches(n)) {
            std::string out = co_await next_read_ahead();
            continue_read_ahead(out.size() == n);
            co_return out;
        }
        co_await prepare_read();
        std::string out = co_await read_direct(n, reserve_buffer(n));
        start_read_ahead(out.size() == n, n);
        co_return out;
    }

    bool read_ahead_matches(std::size_t n) const noexcept {
        return ahead_count_ && ahead_at_ == pos_ && ahead_size_ == n && avail() == 0 && h_;
    }
    /// The next chunk read ahead, at the position; advances past it.
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
    /// Only for files that can seek: chunks read ahead of a FIFO would be taken from it in
    /// whatever order the workers ran.
    void start_read_ahead(bool full, std::size_t n) {
        if (!full || !seekable_ || ring()) return;
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
            std::string buf = spare_.capacity() >= ahead_size_ ? std::move(spare_) : reserve_buffer(ahead_size_);
            spare_ = std::string();
            ahead_[ahead_count_] = spawn(
                file_jobs::read_ahead(h_, std::move(buf), ahead_size_, ahead_at_ + ahead_count_ * ahead_size_),
                {.name = "file read-ahead"});
        }
    }
    /// Cancels the read-ahead and waits until it has let go of the descriptor.
    task<void> settle_read_ahead() {
        while (ahead_count_) {
            task_handle<outcome<std::string>> pending = std::move(ahead_[--ahead_count_]);
            pending.cancel();
            co_await pending.wait(); // throws only if the caller is cancelled
        }
    }
    /// Before anything that moves the position or changes the file: its data may be stale.
    void drop_read_ahead() noexcept {
        for (; ahead_count_; --ahead_count_) {
            ahead_[ahead_count_ - 1].cancel();
            ahead_[ahead_count_ - 1] = {};
        }
    }

    /// What is buffered plus one read for the rest, into buf (see read_chunk), n bytes in all.
    task<std::string> read_direct(std::size_t n, std::string buf) {
        std::size_t have = avail();
        std::uint64_t at = pos_ + have;
        std::string out;
        if (completion_port* port = ring())
            out = co_await ring_read(*port, std::move(buf), have, n, at);
        else
            out = co_await to_thread(file_jobs::read_chunk, h_, std::move(buf), n, at, have);
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

    /// Writes that cannot be repeated safely: appending, or a FIFO or device.
    bool writes_in_order() const noexcept { return mode_bits_.append || !seekable_; }

    task<void> flush_buffer() {
        if (!wbuf_ || wbuf_->empty()) co_return;
        std::size_t n = wbuf_->size();
        std::uint64_t at = pos_ - n;
        bool append = mode_bits_.append;
        if (completion_port* port = ring_for_writes()) {
            // Cancelled, the buffer and the position stay: the kernel is done with the
            // buffer when this resumes, and rewriting the same bytes at the same offsets
            // is harmless.
            std::shared_ptr<std::string> buf = wbuf_;
            port_awaiter::result r =
                co_await port_awaiter(*port, port_awaiter::kind::write, h_->fd(), buf->data(), n, at);
            if (r.error) {
                buf->erase(0, std::min(r.done, n)); // what reached the file is not retried
                throw_write_error(r.error, write_kind::flush, path_, r.done, n);
            }
            pos_ = at + n;
            buf->clear();
            co_return;
        }
        try {
            pos_ = co_await to_thread(file_jobs::write_buffer, h_, wbuf_, at, append);
        } catch (const cancelled_error&) {
            // A worker may still be reading the old buffer: replace it, never touch it.
            if (writes_in_order()) {
                wbuf_ = std::make_shared<std::string>();
                pos_ = at;
            } else {
                wbuf_ = std::make_shared<std::string>(*wbuf_);
            }
            throw;
        } catch (const file_write_error& e) {
            // The job has ended: the buffer is ours again. What reached the file leaves
            // it, so a later flush retries only the rest (and never appends twice).
            wbuf_->erase(0, std::min(e.bytes_written(), wbuf_->size()));
            throw;
        }
        wbuf_->clear(); // the worker is done with it (its job ended before we resumed)
    }

    /// The loop's completion port when reads and writes at offsets can use it.
    completion_port* ring() const noexcept {
        return seekable_ && current_loop_ptr ? current_loop_ptr->completions() : nullptr;
    }
    /// Appending needs the end of the file afterwards, which the pool's write(2) and lseek
    /// give.
    completion_port* ring_for_writes() const noexcept { return mode_bits_.append ? nullptr : ring(); }

    /// Reads n - have bytes at `at` into buf from offset `have` on (fewer only at end of
    /// file) and returns buf cut to what it holds: the string read into is the one
    /// returned, with no copy.
    task<std::string> ring_read(completion_port& port, std::string buf, std::size_t have, std::size_t n,
                                std::uint64_t at) {
        if (buf.size() != n) size_for_overwrite(buf, n);
        std::shared_ptr<file_handle> h = h_; // the descriptor outlives the operation
        port_awaiter::result r =
            co_await port_awaiter(port, port_awaiter::kind::read, h->fd(), buf.data() + have, n - have, at);
        if (r.error) throw_file_error(r.error, "read", h->path());
        buf.resize(have + r.done);
        co_return buf;
    }

    /// read(): everything from `at` on, `have` bytes in. The size (a stat) comes from the
    /// pool; it is a hint, as in file_jobs::read_rest.
    task<std::string> ring_read_rest(completion_port& port, std::uint64_t at, std::size_t have) {
        std::uint64_t size = co_await to_thread(file_jobs::size, h_);
        std::string s = make_buffer(have + static_cast<std::size_t>(size > at ? size - at : 0) + 1);
        std::size_t got = have;
        for (;;) {
            s.resize(std::max<std::size_t>(s.size(), got + 4096));
            port_awaiter::result r = co_await port_awaiter(port, port_awaiter::kind::read, h_->fd(), s.data() + got,
                                                           s.size() - got, at + (got - have));
            if (r.error) throw_file_error(r.error, "read", path_);
            got += r.done;
            if (got < s.size()) break;
            s.resize(s.size() * 2);
        }
        s.resize(got);
        co_return s;
    }

    /// A direct write of data at the position on the port; returns the position after it.
    task<std::uint64_t> write_on_port(completion_port& port, std::string data) {
        std::size_t n = data.size();
        port_awaiter::result r = co_await port_awaiter(port, port_awaiter::kind::write, h_->fd(), data.data(), n, pos_);
        if (r.error) throw_write_error(r.error, write_kind::direct, path_, r.done, n);
        co_return pos_ + n;
    }

    /// fsync(2) on the port.
    task<void> sync_on_port(completion_port& port) {
        port_awaiter::result r = co_await port_awaiter(port, port_awaiter::kind::fsync, h_->fd(), nullptr, 0, 0);
        if (r.error) throw_file_error(r.error, "fsync", path_);
    }

    void take(file_base&& o) noexcept {
        h_ = std::move(o.h_);
        path_ = std::move(o.path_);
        mode_ = std::move(o.mode_);
        mode_bits_ = o.mode_bits_;
        seekable_ = o.seekable_;
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
        release_in_background(std::move(h_), std::move(wbuf_), at, mode_bits_.append);
        drop_read_buffer();
    }

    std::shared_ptr<file_handle> h_; // shared with jobs in flight
    std::string path_;
    std::string mode_;
    open_mode mode_bits_;
    bool seekable_ = true;
    std::uint64_t pos_ = 0;             // logical position (for a FIFO: bytes read or written)
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

} // namespace corio::detail
