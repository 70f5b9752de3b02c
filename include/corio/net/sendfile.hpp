#pragma once
// stream::sendfile (asyncio's loop.sendfile): a range of a file sent over the stream.
// The bytes already written to the stream go first; then, on Linux, sendfile(2) moves the
// file's pages to the socket without copying them through user space, and where that is
// missing (or the file is of a kind sendfile refuses, EINVAL/ENOSYS) the range is read in
// chunks and sent. On EAGAIN it waits for the socket to be writable, as the write
// buffer's flusher does, and carries on from where it stopped.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

#include "corio/io_wait.hpp"
#include "corio/net/stream_core.hpp"
#include "corio/platform/sendfile_ops.hpp"
#include "corio/platform/socket_ops.hpp"
#include "corio/task.hpp"

namespace corio::detail {

/// Makes every sendfile on this thread copy instead of calling sendfile(2), so tests can
/// run the fallback where the native call exists.
inline bool& sendfile_force_fallback() noexcept {
    thread_local bool force = false;
    return force;
}

inline constexpr std::size_t sendfile_chunk = 256 * 1024;

inline void check_sendfile_open(stream_core& c) {
    if (c.write_error) c.throw_write_error();
    if (c.closing || !c.sock.is_open())
        throw_errno(ECONNABORTED, "sendfile to " + c.name() + ": the stream was closed");
}

/// `count` nullopt: to the end of the file. The stream is kept alive by `keep` while the
/// task runs, so destroying the stream object meanwhile is safe.
inline task<std::uint64_t> send_file(std::shared_ptr<stream_core> keep, int fd, std::uint64_t offset,
                                     std::optional<std::uint64_t> count) {
    stream_core& c = *keep;
    if (count && *count == 0) throw std::invalid_argument("corio: sendfile count must be positive");
    if (fd < 0) throw_errno(EBADF, "sendfile to " + c.name());
    if (c.sending_file) throw std::logic_error("corio: sendfile() while another sendfile() is in progress");
    c.check_writable();
    c.sending_file = true;
    struct done_guard {
        stream_core& c;
        ~done_guard() { c.sending_file = false; }
    } guard{c};

    while (c.flushing) { // what write() buffered goes out first
        check_sendfile_open(c);
        c.check_loop();
        co_await c.changed.wait();
    }

    const std::string what = "sendfile from descriptor " + std::to_string(fd) + " to ";
    bool native = have_native_sendfile && !sendfile_force_fallback();
    std::uint64_t sent = 0;
    std::string chunk; // the fallback's bytes read and not yet sent: chunk[at, end)
    std::size_t at = 0;
    for (;;) {
        check_sendfile_open(c);
        std::uint64_t left = count ? *count - sent : ~std::uint64_t(0);
        if (left == 0) break;
        long n;
        if (native) {
            n = send_file_some(c.sock.fd(), fd, offset + sent,
                               static_cast<std::size_t>(std::min<std::uint64_t>(left, 1u << 30)));
            if (n < 0 && sendfile_unsupported(static_cast<int>(-n))) {
                native = false;
                continue;
            }
            if (n == 0) break; // end of the file
        } else {
            if (at == chunk.size()) {
                chunk.resize(static_cast<std::size_t>(std::min<std::uint64_t>(left, sendfile_chunk)));
                long r = read_file_some(fd, chunk.data(), chunk.size(), offset + sent);
                if (r < 0) throw_errno(static_cast<int>(-r), what + c.name());
                if (r == 0) break;
                chunk.resize(static_cast<std::size_t>(r));
                at = 0;
            }
            n = send_some(c.sock.fd(), chunk.data() + at, chunk.size() - at);
            if (n > 0) at += static_cast<std::size_t>(n);
        }
        if (n > 0) {
            sent += static_cast<std::uint64_t>(n);
            continue;
        }
        int err = static_cast<int>(-n);
        if (would_block(err)) {
            co_await writable(c.sock.io);
            continue;
        }
        if (!native || is_connection_error(err)) { // the socket failed: it sticks, as for write()
            c.fail_write(err);
            c.throw_write_error();
        }
        throw_errno(err, what + c.name()); // the file's error: the stream stays usable
    }
    co_return sent;
}

} // namespace corio::detail
