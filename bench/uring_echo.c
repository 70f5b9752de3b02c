// uring_echo: the io_uring baseline echo server, a hand-written single-threaded ring in C:
// the practical limit of a completion loop, as epoll_echo.c is a readiness loop's.
//
//   uring_echo PORT [HOST]
//
// One multishot accept serves the listening socket; every connection has one multishot
// recv that picks its buffers from a provided-buffer ring, so no read is ever issued
// without data and no buffer belongs to an idle connection. A received buffer is sent
// back as it is and returned to the ring when its send completes; a connection has one
// send in flight at a time and queues the rest in order, so partial sends resume where
// they stopped and bytes never reorder. The loop makes one io_uring_submit_and_wait per
// turn, which both submits the turn's SQEs and reaps its completions (DEFER_TASKRUN runs
// the completion work there too, on this thread).
//
// A multishot recv ends without IORING_CQE_F_MORE when the kernel drops it (e.g. the CQ
// overflowed) or the ring ran out of buffers (-ENOBUFS): it is armed again at once in
// the first case, and once a send has given a buffer back in the second.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define SQ_ENTRIES 4096
#define CQ_ENTRIES 65536
#define BUF_GROUP 0
#define BUF_COUNT 4096 // a power of two, as the buffer ring requires
#define BUF_SIZE 16384

enum op { OP_ACCEPT = 0, OP_RECV = 1, OP_SEND = 2 };
#define OP_MASK 3u

struct conn {
    int fd;
    bool recv_armed; // a multishot recv is outstanding
    bool sending;    // a send is in flight
    bool closing;    // end of stream or an error: freed once nothing is outstanding
    bool starved;    // on the starved list, waiting for a buffer to come back
    int head, tail;  // queue of buffer ids still to send, -1 when empty
    unsigned sent;   // bytes of the head buffer already sent
    struct conn* next_starved;
};

static struct io_uring ring;
static struct io_uring_buf_ring* br;
static char* bufs;
static int buf_len[BUF_COUNT];  // bytes received into each buffer
static int buf_next[BUF_COUNT]; // the next buffer in its connection's send queue
static unsigned returned;       // buffers given back this turn, published at its end
static struct conn* starved;
static int listen_fd;

static struct io_uring_sqe* get_sqe(void) {
    struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    if (!sqe) { // a full SQ: hand it over and go on
        io_uring_submit(&ring);
        sqe = io_uring_get_sqe(&ring);
        if (!sqe) {
            fprintf(stderr, "uring_echo: no SQE after submitting\n");
            exit(1);
        }
    }
    return sqe;
}

static void* tag(void* p, enum op op) { return (void*)((uintptr_t)p | op); }

static void arm_accept(void) {
    struct io_uring_sqe* sqe = get_sqe();
    io_uring_prep_multishot_accept(sqe, listen_fd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data(sqe, tag(NULL, OP_ACCEPT));
}

static void arm_recv(struct conn* c) {
    struct io_uring_sqe* sqe = get_sqe();
    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BUF_GROUP;
    io_uring_sqe_set_data(sqe, tag(c, OP_RECV));
    c->recv_armed = true;
}

static void start_send(struct conn* c) {
    int bid = c->head;
    struct io_uring_sqe* sqe = get_sqe();
    io_uring_prep_send(sqe, c->fd, bufs + (size_t)bid * BUF_SIZE + c->sent, (size_t)buf_len[bid] - c->sent,
                       MSG_NOSIGNAL);
    io_uring_sqe_set_data(sqe, tag(c, OP_SEND));
    c->sending = true;
}

static void give_back(int bid) {
    io_uring_buf_ring_add(br, bufs + (size_t)bid * BUF_SIZE, BUF_SIZE, (unsigned short)bid,
                          io_uring_buf_ring_mask(BUF_COUNT), (int)returned);
    ++returned;
}

// Frees the connection once no CQE can name it any more.
static void maybe_free(struct conn* c) {
    if (!c->closing || c->recv_armed || c->sending || c->starved || c->head >= 0) return;
    close(c->fd);
    free(c);
}

static void drop_queue(struct conn* c) {
    while (c->head >= 0) {
        int bid = c->head;
        c->head = buf_next[bid];
        give_back(bid);
    }
    c->tail = -1;
    c->sent = 0;
}

static void on_accept(struct io_uring_cqe* cqe) {
    if (!(cqe->flags & IORING_CQE_F_MORE)) arm_accept();
    if (cqe->res < 0) {
        if (cqe->res != -ECONNABORTED && cqe->res != -EINTR)
            fprintf(stderr, "uring_echo: accept: %s\n", strerror(-cqe->res));
        return;
    }
    int one = 1;
    setsockopt(cqe->res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn* c = calloc(1, sizeof *c);
    if (!c) {
        close(cqe->res);
        return;
    }
    c->fd = cqe->res;
    c->head = c->tail = -1;
    arm_recv(c);
}

static void on_recv(struct conn* c, struct io_uring_cqe* cqe) {
    if (cqe->flags & IORING_CQE_F_BUFFER) {
        int bid = (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        if (cqe->res <= 0 || c->closing) {
            give_back(bid);
        } else {
            buf_len[bid] = cqe->res;
            buf_next[bid] = -1;
            if (c->tail >= 0)
                buf_next[c->tail] = bid;
            else
                c->head = bid;
            c->tail = bid;
            if (!c->sending) start_send(c);
        }
    }
    if (cqe->flags & IORING_CQE_F_MORE) return;
    c->recv_armed = false;
    if (cqe->res == -ENOBUFS && !c->closing) {
        c->starved = true;
        c->next_starved = starved;
        starved = c;
    } else if (cqe->res > 0 && !c->closing) {
        arm_recv(c);
    } else {
        c->closing = true; // end of stream or an error; queued bytes still go out
        maybe_free(c);
    }
}

static void on_send(struct conn* c, struct io_uring_cqe* cqe) {
    c->sending = false;
    if (cqe->res <= 0) { // the peer is gone: drop what is queued and end the recv too
        c->closing = true;
        drop_queue(c);
        if (c->recv_armed) shutdown(c->fd, SHUT_RDWR);
        maybe_free(c);
        return;
    }
    c->sent += (unsigned)cqe->res;
    int bid = c->head;
    if (c->sent == (unsigned)buf_len[bid]) {
        c->head = buf_next[bid];
        if (c->head < 0) c->tail = -1;
        c->sent = 0;
        give_back(bid);
    }
    if (c->head >= 0)
        start_send(c);
    else
        maybe_free(c);
}

static int setup_ring(void) {
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
    p.cq_entries = CQ_ENTRIES;
    int r = io_uring_queue_init_params(SQ_ENTRIES, &ring, &p);
    if (r < 0) { // kernels before 6.1
        memset(&p, 0, sizeof p);
        p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_CQSIZE;
        p.cq_entries = CQ_ENTRIES;
        r = io_uring_queue_init_params(SQ_ENTRIES, &ring, &p);
        if (r == 0) fprintf(stderr, "uring_echo: no DEFER_TASKRUN, using COOP_TASKRUN\n");
    }
    if (r < 0) {
        fprintf(stderr, "uring_echo: io_uring_queue_init: %s\n", strerror(-r));
        return -1;
    }
#ifdef IO_URING_VERSION_MAJOR // liburing >= 2.4
    br = io_uring_setup_buf_ring(&ring, BUF_COUNT, BUF_GROUP, 0, &r);
    if (!br) {
        fprintf(stderr, "uring_echo: io_uring_setup_buf_ring: %s\n", strerror(-r));
        return -1;
    }
#else // what io_uring_setup_buf_ring does
    void* mem = mmap(NULL, BUF_COUNT * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        perror("uring_echo: mmap");
        return -1;
    }
    br = mem;
    io_uring_buf_ring_init(br);
    struct io_uring_buf_reg reg = {.ring_addr = (unsigned long)br, .ring_entries = BUF_COUNT, .bgid = BUF_GROUP};
    r = io_uring_register_buf_ring(&ring, &reg, 0);
    if (r < 0) {
        fprintf(stderr, "uring_echo: io_uring_register_buf_ring: %s\n", strerror(-r));
        return -1;
    }
#endif
    bufs = aligned_alloc(4096, (size_t)BUF_COUNT * BUF_SIZE);
    if (!bufs) {
        perror("uring_echo: aligned_alloc");
        return -1;
    }
    for (int i = 0; i < BUF_COUNT; ++i) give_back(i);
    io_uring_buf_ring_advance(br, (int)returned);
    returned = 0;
    return 0;
}

int main(int argc, char** argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: uring_echo PORT [HOST]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    const char* host = argc > 2 ? argv[2] : "127.0.0.1";
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "uring_echo: bad IPv4 address '%s'\n", host);
        return 2;
    }
    if (bind(listen_fd, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(listen_fd, SOMAXCONN) != 0) {
        fprintf(stderr, "uring_echo: cannot listen on %s:%d: %s\n", host, port, strerror(errno));
        return 1;
    }
    if (setup_ring() != 0) return 1;
    arm_accept();

    for (;;) {
        int r = io_uring_submit_and_wait(&ring, 1);
        if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
            fprintf(stderr, "uring_echo: io_uring_submit_and_wait: %s\n", strerror(-r));
            return 1;
        }
        struct io_uring_cqe* cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            ++seen;
            void* data = io_uring_cqe_get_data(cqe);
            struct conn* c = (struct conn*)((uintptr_t)data & ~(uintptr_t)OP_MASK);
            switch ((uintptr_t)data & OP_MASK) {
            case OP_ACCEPT: on_accept(cqe); break;
            case OP_RECV: on_recv(c, cqe); break;
            case OP_SEND: on_send(c, cqe); break;
            }
        }
        io_uring_cq_advance(&ring, seen);
        if (returned) {
            io_uring_buf_ring_advance(br, (int)returned);
            returned = 0;
            while (starved) { // buffers are back: the connections that ran out try again
                struct conn* c = starved;
                starved = c->next_starved;
                c->starved = false;
                if (c->closing)
                    maybe_free(c);
                else
                    arm_recv(c);
            }
        }
    }
}
