#pragma once
// The blocking system calls behind corio::file. Everything here runs on a worker thread
// (never on the loop), retries EINTR, and reports failures as std::system_error naming
// the path.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corio/errors.hpp"

namespace corio::detail {

// What a Python mode string ("r", "w+", "ab", ...) asks for.
struct open_mode {
    int flags = 0;
    bool readable = false;
    bool writable = false;
    bool append = false;
};

// Python's rules: exactly one of r/w/a/x, at most one '+', at most one of b/t, no
// repeats, any order. Throws std::invalid_argument otherwise.
inline open_mode parse_mode(std::string_view mode) {
    auto bad = [&](const char* why) {
        return std::invalid_argument("corio::open: invalid mode '" + std::string(mode) + "': " + why);
    };
    char kind = 0;
    bool plus = false, binary = false, text = false;
    for (char c : mode) {
        switch (c) {
        case 'r':
        case 'w':
        case 'a':
        case 'x':
            if (kind) throw bad("must have exactly one of r, w, a, x");
            kind = c;
            break;
        case '+':
            if (plus) throw bad("'+' given twice");
            plus = true;
            break;
        case 'b':
            if (binary) throw bad("'b' given twice");
            binary = true;
            break;
        case 't':
            if (text) throw bad("'t' given twice");
            text = true;
            break;
        default:
            throw bad("unknown character");
        }
    }
    if (!kind) throw bad("must have exactly one of r, w, a, x");
    if (binary && text) throw bad("can't be both text and binary");

    open_mode m;
    m.readable = kind == 'r' || plus;
    m.writable = kind != 'r' || plus;
    m.append = kind == 'a';
    m.flags = O_CLOEXEC | (m.readable && m.writable ? O_RDWR : m.writable ? O_WRONLY : O_RDONLY);
    if (kind == 'w') m.flags |= O_CREAT | O_TRUNC;
    if (kind == 'a') m.flags |= O_CREAT | O_APPEND;
    if (kind == 'x') m.flags |= O_CREAT | O_EXCL;
    return m;
}

[[noreturn]] inline void throw_file_error(int err, const char* what, const std::string& path) {
    throw std::system_error(err, std::system_category(), std::string(what) + " '" + path + "'");
}

// How a write names itself in its error: a flush writes bytes the caller handed over
// earlier (buffered), a direct write the caller's own.
enum class write_kind { direct, flush };

[[noreturn]] inline void throw_write_error(int err, write_kind kind, const std::string& path,
                                           std::size_t written, std::size_t total) {
    bool flush = kind == write_kind::flush;
    throw file_write_error(err,
                           std::string(flush ? "flush" : "write") + " '" + path + "': " +
                               std::to_string(total - written) + " of " + std::to_string(total) +
                               (flush ? " buffered" : "") + " bytes did not reach the file",
                           written, total);
}

// FIFOs, pipes, sockets, terminals and character devices are read and written at their
// current position; /dev/zero says it can seek, but its "position" means nothing either.
inline bool is_seekable(int fd, const struct stat& st) noexcept {
    if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode)) return false;
    return ::lseek(fd, 0, SEEK_CUR) >= 0;
}

// An open descriptor and the path it came from. Shared between a file object and the
// jobs in flight on it, so a job still running after its caller was cancelled never
// sees the descriptor closed (or its number reused) under it; the last owner closes.
class file_handle {
public:
    file_handle(int fd, std::string path) noexcept : fd_(fd), path_(std::move(path)) {}
    ~file_handle() {
        if (fd_ >= 0) ::close(fd_);
    }
    file_handle(const file_handle&) = delete;
    file_handle& operator=(const file_handle&) = delete;

    int fd() const noexcept { return fd_; }
    const std::string& path() const noexcept { return path_; }

    // Opens `path`; refuses directories even for reading (Python's IsADirectoryError).
    // Returns the handle and, in append mode, the end of the file as the position.
    static file_handle open(const std::string& path, const open_mode& m, std::uint64_t& position) {
        int fd;
        do {
            fd = ::open(path.c_str(), m.flags, 0666);
        } while (fd < 0 && errno == EINTR);
        if (fd < 0) throw_file_error(errno, "open", path);
        file_handle h(fd, path);
        struct stat st;
        if (::fstat(fd, &st) < 0) throw_file_error(errno, "stat", path);
        if (S_ISDIR(st.st_mode)) throw_file_error(EISDIR, "open", path);
        h.seekable_ = is_seekable(fd, st);
        position = 0;
        if (m.append && h.seekable_) {
            off_t end = ::lseek(fd, 0, SEEK_END);
            if (end < 0) throw_file_error(errno, "seek", path);
            position = static_cast<std::uint64_t>(end);
        }
        return h;
    }
    file_handle(file_handle&& o) noexcept : fd_(o.fd_), seekable_(o.seekable_), path_(std::move(o.path_)) {
        o.fd_ = -1;
    }

    // False for FIFOs, pipes, sockets, terminals and devices: they read and write at
    // their current position, and every `offset` below is ignored.
    bool seekable() const noexcept { return seekable_; }

    // One read(2) or pread(2): what is there now, at least a byte unless at end of file
    // (a FIFO waits for its writer). Returns how many it got.
    std::size_t read_some(char* buf, std::size_t n, std::uint64_t offset) const {
        for (;;) {
            ssize_t r = seekable_ ? ::pread(fd_, buf, n, static_cast<off_t>(offset)) : ::read(fd_, buf, n);
            if (r >= 0) return static_cast<std::size_t>(r);
            if (errno != EINTR) throw_file_error(errno, "read", path_);
        }
    }

    // Reads until `n` bytes or end of file; returns how many it got.
    std::size_t read_full(char* buf, std::size_t n, std::uint64_t offset) const {
        std::size_t got = 0;
        while (got < n) {
            std::size_t r = read_some(buf + got, n - got, offset + got);
            if (r == 0) break;
            got += r;
        }
        return got;
    }

    void pwrite_full(const char* buf, std::size_t n, std::uint64_t offset, write_kind kind) const {
        if (!seekable_) return write_full(buf, n, kind);
        std::size_t put = 0;
        while (put < n) {
            ssize_t r = ::pwrite(fd_, buf + put, n - put, static_cast<off_t>(offset + put));
            if (r < 0) {
                if (errno == EINTR) continue;
                throw_write_error(errno, kind, path_, put, n);
            }
            put += static_cast<std::size_t>(r);
        }
    }

    // write(2) until all is written: at the current position of a FIFO or device, at
    // the end with O_APPEND.
    void write_full(const char* buf, std::size_t n, write_kind kind) const {
        std::size_t put = 0;
        while (put < n) {
            ssize_t r = ::write(fd_, buf + put, n - put);
            if (r < 0) {
                if (errno == EINTR) continue;
                throw_write_error(errno, kind, path_, put, n);
            }
            put += static_cast<std::size_t>(r);
        }
    }

    // O_APPEND: write(2) goes to the end whatever the offset says (pwrite would ignore
    // the offset on Linux and honour it elsewhere). Returns the new end.
    std::uint64_t append_full(const char* buf, std::size_t n, write_kind kind) const {
        write_full(buf, n, kind);
        off_t end = ::lseek(fd_, 0, SEEK_CUR);
        if (end < 0) throw_file_error(errno, "seek", path_);
        return static_cast<std::uint64_t>(end);
    }

    std::uint64_t size() const {
        struct stat st;
        if (::fstat(fd_, &st) < 0) throw_file_error(errno, "stat", path_);
        return static_cast<std::uint64_t>(st.st_size);
    }

    void sync() const {
        if (::fsync(fd_) < 0) throw_file_error(errno, "fsync", path_);
    }

    // Closes now and reports the error close(2) gives (EIO on network filesystems).
    void close() {
        int fd = fd_;
        fd_ = -1;
        if (fd >= 0 && ::close(fd) < 0 && errno != EINTR) throw_file_error(errno, "close", path_);
    }

private:
    int fd_;
    bool seekable_ = true;
    std::string path_;
};

// Whole-file helpers in one worker round trip each.
inline std::string read_whole_file(const std::string& path) {
    std::uint64_t pos = 0;
    file_handle h = file_handle::open(path, parse_mode("rb"), pos);
    std::string out;
    std::size_t size = static_cast<std::size_t>(h.size());
    out.resize(size ? size : 64 * 1024);
    std::size_t got = 0;
    for (;;) { // the size is a hint: the file may grow or shrink, and /proc files say 0
        got += h.read_full(out.data() + got, out.size() - got, got);
        if (got < out.size()) break;
        out.resize(out.size() * 2);
    }
    out.resize(got);
    h.close();
    return out;
}

inline void write_whole_file(const std::string& path, std::string_view data) {
    std::uint64_t pos = 0;
    file_handle h = file_handle::open(path, parse_mode("wb"), pos);
    h.pwrite_full(data.data(), data.size(), 0, write_kind::direct);
    h.close();
}

} // namespace corio::detail
