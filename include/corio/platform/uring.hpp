#pragma once
// The io_uring rings themselves, through the raw system calls (no liburing): setup and
// mapping, taking submission entries, and entering the kernel. reactor_uring.hpp builds
// the loop's backend on top. Linux 6.1 or later: the ring is made with SINGLE_ISSUER and
// DEFER_TASKRUN (completions run only inside this thread's io_uring_enter, so no other
// thread or interrupt touches the loop's state), and provided-buffer rings, multishot
// recv and EXT_ARG timeouts are all used; a kernel without them gets the epoll backend.
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <system_error>

#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace corio::detail {

inline int uring_setup(unsigned entries, io_uring_params* p) noexcept {
    long r = ::syscall(__NR_io_uring_setup, entries, p);
    return r < 0 ? -errno : static_cast<int>(r);
}

inline int uring_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags, const void* arg,
                       std::size_t arg_size) noexcept {
    long r = ::syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, arg, arg_size);
    return r < 0 ? -errno : static_cast<int>(r);
}

inline int uring_register(int fd, unsigned opcode, const void* arg, unsigned nr) noexcept {
    long r = ::syscall(__NR_io_uring_register, fd, opcode, arg, nr);
    return r < 0 ? -errno : static_cast<int>(r);
}

/// Test hook: when set, every ring setup fails with this errno, as under a seccomp
/// profile that forbids io_uring (tests check the fallback to epoll with it).
inline std::atomic<int> uring_setup_forced_error{0};

/// One io_uring instance: the submission queue, the completion queue and the entries
/// array, mapped into this process.
class uring {
public:
    /// Returns 0, or the negated errno of the step that failed (the ring is then unusable).
    int open(unsigned sq_entries, unsigned cq_entries) noexcept {
        if (int forced = uring_setup_forced_error.load()) return -forced;
        io_uring_params p{};
        p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                  IORING_SETUP_SUBMIT_ALL;
        p.cq_entries = cq_entries;
        int fd = uring_setup(sq_entries, &p);
        if (fd < 0) return fd;
        fd_ = fd;
        const unsigned needed = IORING_FEAT_SINGLE_MMAP | IORING_FEAT_NODROP | IORING_FEAT_EXT_ARG;
        if ((p.features & needed) != needed) return -ENOSYS;
        ring_size_ = std::max(p.sq_off.array + p.sq_entries * sizeof(unsigned),
                              p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe));
        void* ring = ::mmap(nullptr, ring_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_,
                            IORING_OFF_SQ_RING);
        if (ring == MAP_FAILED) return -errno;
        ring_ = static_cast<char*>(ring);
        sqes_size_ = p.sq_entries * sizeof(io_uring_sqe);
        void* sqes = ::mmap(nullptr, sqes_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_,
                            IORING_OFF_SQES);
        if (sqes == MAP_FAILED) return -errno;
        sqes_ = static_cast<io_uring_sqe*>(sqes);

        sq_head_ = reinterpret_cast<unsigned*>(ring_ + p.sq_off.head);
        sq_tail_ = reinterpret_cast<unsigned*>(ring_ + p.sq_off.tail);
        sq_mask_ = *reinterpret_cast<unsigned*>(ring_ + p.sq_off.ring_mask);
        sq_entries_ = p.sq_entries;
        unsigned* array = reinterpret_cast<unsigned*>(ring_ + p.sq_off.array);
        for (unsigned i = 0; i < p.sq_entries; ++i) array[i] = i; // entry i always sits in slot i
        cq_head_ = reinterpret_cast<unsigned*>(ring_ + p.cq_off.head);
        cq_tail_ = reinterpret_cast<unsigned*>(ring_ + p.cq_off.tail);
        cq_mask_ = *reinterpret_cast<unsigned*>(ring_ + p.cq_off.ring_mask);
        cqes_ = reinterpret_cast<io_uring_cqe*>(ring_ + p.cq_off.cqes);
        sq_local_tail_ = *sq_tail_;
        return 0;
    }

    ~uring() { close(); }
    uring() = default;
    uring(const uring&) = delete;
    uring& operator=(const uring&) = delete;

    void close() noexcept {
        if (sqes_) ::munmap(sqes_, sqes_size_);
        if (ring_) ::munmap(ring_, ring_size_);
        if (fd_ >= 0) ::close(fd_);
        sqes_ = nullptr;
        ring_ = nullptr;
        fd_ = -1;
    }

    int fd() const noexcept { return fd_; }

    /// Entries taken but not yet handed to the kernel.
    unsigned pending() const noexcept { return sq_local_tail_ - __atomic_load_n(sq_head_, __ATOMIC_ACQUIRE); }

    /// A zeroed entry. When the queue is full, what is queued is submitted first (the only
    /// place a submission happens outside the loop's one enter per turn).
    io_uring_sqe& next_sqe() {
        if (sq_local_tail_ - __atomic_load_n(sq_head_, __ATOMIC_ACQUIRE) >= sq_entries_) [[unlikely]]
            submit_now();
        io_uring_sqe& e = sqes_[sq_local_tail_ & sq_mask_];
        std::memset(&e, 0, sizeof e);
        ++sq_local_tail_;
        __atomic_store_n(sq_tail_, sq_local_tail_, __ATOMIC_RELEASE);
        return e;
    }

    /// Submits what is queued and, when `wait`, waits up to `timeout_ns` (-1: no limit) for
    /// at least one completion. Returns false when interrupted by a signal or timed out.
    bool enter(bool wait, std::int64_t timeout_ns) {
        unsigned flags = IORING_ENTER_GETEVENTS;
        unsigned min_complete = 0;
        io_uring_getevents_arg arg{};
        __kernel_timespec ts{};
        if (wait) {
            min_complete = 1;
            if (timeout_ns >= 0) {
                ts.tv_sec = timeout_ns / 1'000'000'000;
                ts.tv_nsec = timeout_ns % 1'000'000'000;
                arg.ts = reinterpret_cast<std::uint64_t>(&ts);
            }
            arg.sigmask_sz = _NSIG / 8;
            flags |= IORING_ENTER_EXT_ARG;
        }
        for (;;) {
            int r = uring_enter(fd_, pending(), min_complete, flags, wait ? &arg : nullptr,
                                wait ? sizeof arg : 0);
            if (r >= 0) return true;
            if (r == -ETIME || r == -EINTR) return false;
            if (r == -EBUSY || r == -EAGAIN) { // completions overflowed: the caller reaps first
                if (min_complete == 0) return true;
                min_complete = 0;
                continue;
            }
            throw std::system_error(-r, std::system_category(), "io_uring_enter");
        }
    }

    /// Hands queued entries to the kernel without waiting.
    void submit_now() {
        while (pending() > 0) {
            int r = uring_enter(fd_, pending(), 0, 0, nullptr, 0);
            if (r < 0 && r != -EINTR && r != -EBUSY && r != -EAGAIN)
                throw std::system_error(-r, std::system_category(), "io_uring_enter");
            if (r <= 0) enter(false, 0); // overflowed completions block submission: reap them
        }
    }

    /// Calls f(cqe) for each completion, oldest first, and frees their slots.
    template <class F>
    unsigned reap(F&& f) {
        unsigned head = *cq_head_;
        unsigned n = 0;
        for (;;) {
            unsigned tail = __atomic_load_n(cq_tail_, __ATOMIC_ACQUIRE);
            if (head == tail) break;
            const io_uring_cqe cqe = cqes_[head & cq_mask_];
            ++head;
            __atomic_store_n(cq_head_, head, __ATOMIC_RELEASE); // before f: it may submit and reap
            ++n;
            f(cqe);
        }
        return n;
    }

private:
    int fd_ = -1;
    char* ring_ = nullptr;
    std::size_t ring_size_ = 0;
    io_uring_sqe* sqes_ = nullptr;
    std::size_t sqes_size_ = 0;
    unsigned* sq_head_ = nullptr;
    unsigned* sq_tail_ = nullptr;
    unsigned sq_mask_ = 0, sq_entries_ = 0;
    unsigned sq_local_tail_ = 0;
    unsigned* cq_head_ = nullptr;
    unsigned* cq_tail_ = nullptr;
    unsigned cq_mask_ = 0;
    io_uring_cqe* cqes_ = nullptr;
};

/// A provided-buffer ring: `count` buffers of `size` bytes the kernel picks from for
/// multishot recv, each handed back (recycle) as soon as its bytes are copied out.
class buffer_ring {
public:
    int open(uring& r, unsigned short group, unsigned count, unsigned size) noexcept {
        count_ = count;
        size_ = size;
        ring_bytes_ = count * sizeof(io_uring_buf);
        data_bytes_ = static_cast<std::size_t>(count) * size;
        void* mem = ::mmap(nullptr, ring_bytes_ + data_bytes_, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED) return -errno;
        ring_ = mem;
        data_ = static_cast<char*>(mem) + ring_bytes_;
        io_uring_buf_reg reg{};
        reg.ring_addr = reinterpret_cast<std::uint64_t>(ring_);
        reg.ring_entries = count;
        reg.bgid = group;
        if (int e = uring_register(r.fd(), IORING_REGISTER_PBUF_RING, &reg, 1); e < 0) return e;
        group_ = group;
        for (unsigned i = 0; i < count; ++i) put(static_cast<unsigned short>(i), i);
        publish(count);
        return 0;
    }
    ~buffer_ring() {
        if (ring_) ::munmap(ring_, ring_bytes_ + data_bytes_);
    }
    buffer_ring() = default;
    buffer_ring(const buffer_ring&) = delete;
    buffer_ring& operator=(const buffer_ring&) = delete;

    unsigned short group() const noexcept { return group_; }
    const char* data(unsigned short id) const noexcept { return data_ + static_cast<std::size_t>(id) * size_; }

    /// Gives buffer `id` back to the kernel.
    void recycle(unsigned short id) noexcept {
        put(id, 0);
        publish(1);
    }

private:
    void put(unsigned short id, unsigned offset) noexcept {
        // Indexed by hand: in C++ the header's flexible array sits after an empty struct,
        // 8 bytes later than where the kernel reads the entries.
        io_uring_buf& b = reinterpret_cast<io_uring_buf*>(ring_)[(tail_ + offset) & (count_ - 1)];
        b.addr = reinterpret_cast<std::uint64_t>(data_ + static_cast<std::size_t>(id) * size_);
        b.len = size_;
        b.bid = id;
    }
    void publish(unsigned n) noexcept {
        tail_ = static_cast<unsigned short>(tail_ + n);
        __atomic_store_n(&reinterpret_cast<io_uring_buf*>(ring_)[0].resv, tail_, __ATOMIC_RELEASE); // the tail
    }

    void* ring_ = nullptr;
    char* data_ = nullptr;
    std::size_t ring_bytes_ = 0, data_bytes_ = 0;
    unsigned count_ = 0, size_ = 0;
    unsigned short tail_ = 0, group_ = 0;
};

} // namespace corio::detail
