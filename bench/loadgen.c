// loadgen: the echo benchmarks' load generator. Plain C and one epoll thread, so it
// cannot favour any of the servers it measures.
//
//   loadgen --port P [--host 127.0.0.1] [--conns N] [--size S] [--depth D]
//           [--warmup SECS] [--duration SECS] [--mode rr|pipe|idle] [--hold SECS] [--seed X]
//           [--server-pid PID]
//
// rr   : each connection sends one S-byte message, waits for all of its echo, repeats.
// pipe : each connection keeps D messages in flight.
// idle : opens N connections, echoes one message on each, prints "READY conns=N" and
//        holds them idle for --hold seconds, then checks one more echo on every one.
//
// Every echoed byte is compared with what was sent: connection c's byte stream is a
// window of one random pattern starting at a per-connection random offset, so a byte
// from another connection, a reordered or a dropped byte shows as a mismatch.
//
// Output (stdout), one line each:
//   WARM                                 when the warm-up ends (rr/pipe)
//   COUNT msgs=M                         on each SIGUSR1 after that: messages completed so far,
//                                        so a caller can count the messages of any window
//   READY conns=N                        when every idle connection is open (idle)
//   RESULT mode=rr conns=N size=S depth=D secs=T msgs=M msgs_per_sec=X mb_per_sec=Y total_msgs=Z client_cpu=C
// With --server-pid, RESULT also has server_cpu and server_wait: the server's CPU time and
// its time runnable but waiting for a CPU, as shares of the measured window (from
// /proc/PID/task/*/schedstat, read here so they cover exactly that window).
// Exit status: 0 on success, 2 on a usage error, 3 on a connection error, 4 on a mismatch.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

// A prime period, so a message size is never a multiple of it and consecutive messages differ.
#define PATTERN_PERIOD 1048573u
// Longest contiguous run read from the pattern; the pattern is extended by this much so
// any window starting inside the period is contiguous.
#define CHUNK (256u * 1024u)
#define CONNECT_BATCH 100

enum mode { MODE_RR, MODE_PIPE, MODE_IDLE };

struct conn {
    int fd;
    uint32_t seed;         // where this connection's stream starts in the pattern
    uint64_t sent;         // bytes sent so far
    uint64_t received;     // bytes received (and verified) so far
    uint64_t send_limit;   // bytes we may have sent: (completed messages + depth) * size
    int want_out;          // blocked on a full socket buffer
};

static unsigned char* pattern;
static unsigned char* recv_buf;
static struct conn* conns;
static int n_conns = 1;
static size_t msg_size = 64;
static int depth = 1;
// Messages each connection may have in flight right now: 0 while opening or holding
// connections, so an echo never triggers the next message.
static int in_flight = 0;
static enum mode mode = MODE_RR;
static int epfd = -1;
static volatile sig_atomic_t count_requested;

static void on_sigusr1(int sig) {
    (void)sig;
    count_requested = 1;
}

static double cpu_now(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

// Sums the server's threads' schedstat fields: [0] ns on a CPU, [1] ns waiting for one.
static int server_sched(int pid, double out[2]) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR* d = opendir(path);
    if (!d) return -1;
    unsigned long long run = 0, wait = 0;
    struct dirent* e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char p[300];
        snprintf(p, sizeof p, "/proc/%d/task/%s/schedstat", pid, e->d_name);
        FILE* f = fopen(p, "r");
        if (!f) continue;
        unsigned long long r, w;
        if (fscanf(f, "%llu %llu", &r, &w) == 2) {
            run += r;
            wait += w;
        }
        fclose(f);
    }
    closedir(d);
    out[0] = (double)run * 1e-9;
    out[1] = (double)wait * 1e-9;
    return 0;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die_conn(int idx, const char* what, int err) {
    fprintf(stderr, "loadgen: connection %d: %s: %s\n", idx, what, err ? strerror(err) : "closed by peer");
    exit(3);
}

static const unsigned char* stream_at(const struct conn* c, uint64_t offset) {
    return pattern + (uint32_t)((c->seed + offset) % PATTERN_PERIOD);
}

static uint64_t xorshift(uint64_t* s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void raise_fd_limit(int needed) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)needed > rl.rlim_cur) {
        fprintf(stderr, "loadgen: need %d descriptors, RLIMIT_NOFILE allows %llu\n", needed,
                (unsigned long long)rl.rlim_cur);
        exit(3);
    }
}

// Sends what the connection may send now; returns when done or the socket is full.
static void pump_send(int idx) {
    struct conn* c = &conns[idx];
    while (c->sent < c->send_limit) {
        uint64_t n = c->send_limit - c->sent;
        if (n > CHUNK) n = CHUNK;
        ssize_t w = send(c->fd, stream_at(c, c->sent), (size_t)n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                c->want_out = 1;
                return;
            }
            die_conn(idx, "send", errno);
        }
        c->sent += (uint64_t)w;
    }
    c->want_out = 0;
}

// Reads until EAGAIN, verifying each byte. Returns the number of messages completed.
static uint64_t pump_recv(int idx) {
    struct conn* c = &conns[idx];
    uint64_t done_before = c->received / msg_size;
    for (;;) {
        ssize_t r = recv(c->fd, recv_buf, CHUNK, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) break;
            die_conn(idx, "recv", errno);
        }
        if (r == 0) die_conn(idx, "recv", 0);
        if ((uint64_t)r + c->received > c->sent) {
            fprintf(stderr, "loadgen: connection %d: received %llu bytes more than it sent\n", idx,
                    (unsigned long long)((uint64_t)r + c->received - c->sent));
            exit(4);
        }
        if (memcmp(recv_buf, stream_at(c, c->received), (size_t)r) != 0) {
            const unsigned char* want = stream_at(c, c->received);
            ssize_t i = 0;
            while (recv_buf[i] == want[i]) ++i;
            fprintf(stderr, "loadgen: connection %d: echoed byte %llu is 0x%02x, sent 0x%02x\n", idx,
                    (unsigned long long)(c->received + (uint64_t)i), recv_buf[i], want[i]);
            exit(4);
        }
        c->received += (uint64_t)r;
        // Edge-triggered: a short read drained the socket, and new data raises a new edge.
        if ((size_t)r < CHUNK) break;
    }
    uint64_t done = c->received / msg_size - done_before;
    c->send_limit = (c->received / msg_size + (uint64_t)in_flight) * msg_size;
    return done;
}

static int open_conn(const struct sockaddr_in* addr) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "loadgen: socket: %s\n", strerror(errno));
        exit(3);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (const struct sockaddr*)addr, sizeof *addr) != 0 && errno != EINPROGRESS) {
        fprintf(stderr, "loadgen: connect to %s:%d: %s\n", inet_ntoa(addr->sin_addr), ntohs(addr->sin_port),
                strerror(errno));
        exit(3);
    }
    return fd;
}

// One round of the event loop; returns messages completed. timeout_ms as for epoll_wait.
static uint64_t poll_once(int timeout_ms) {
    struct epoll_event evs[256];
    int n = epoll_wait(epfd, evs, 256, timeout_ms);
    if (n < 0) {
        if (errno == EINTR) return 0;
        fprintf(stderr, "loadgen: epoll_wait: %s\n", strerror(errno));
        exit(3);
    }
    uint64_t done = 0;
    for (int i = 0; i < n; ++i) {
        int idx = (int)evs[i].data.u32;
        struct conn* c = &conns[idx];
        if (evs[i].events & EPOLLERR) {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
            die_conn(idx, "socket error", err ? err : ECONNRESET);
        }
        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) {
            done += pump_recv(idx);
            pump_send(idx);
        } else if ((evs[i].events & EPOLLOUT) && c->sent < c->send_limit) {
            pump_send(idx);
        }
    }
    return done;
}

// Opens every connection in batches and echoes one message on each, so a server's accept
// backlog never overflows (a dropped SYN would cost a one-second retransmit).
static void connect_all(const struct sockaddr_in* addr, double deadline) {
    for (int base = 0; base < n_conns; base += CONNECT_BATCH) {
        int end = base + CONNECT_BATCH < n_conns ? base + CONNECT_BATCH : n_conns;
        for (int i = base; i < end; ++i) {
            struct conn* c = &conns[i];
            c->fd = open_conn(addr);
            c->send_limit = msg_size;
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.u32 = (uint32_t)i};
            if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
                fprintf(stderr, "loadgen: epoll_ctl: %s\n", strerror(errno));
                exit(3);
            }
        }
        uint64_t pending = (uint64_t)(end - base);
        while (pending > 0) {
            if (now() > deadline) {
                fprintf(stderr, "loadgen: timed out opening connections (%d of %d echoed)\n",
                        base + (int)((uint64_t)(end - base) - pending), n_conns);
                exit(3);
            }
            poll_once(100);
            pending = 0;
            for (int i = base; i < end; ++i)
                if (conns[i].received < msg_size) ++pending;
        }
    }
}

static uint64_t total_completed(void) {
    uint64_t t = 0;
    for (int i = 0; i < n_conns; ++i) t += conns[i].received / msg_size;
    return t;
}

static void usage(void) {
    fprintf(stderr,
            "usage: loadgen --port P [--host 127.0.0.1] [--conns N] [--size BYTES] [--depth D]\n"
            "               [--warmup SECS] [--duration SECS] [--mode rr|pipe|idle] [--hold SECS] [--seed X]\n");
    exit(2);
}

int main(int argc, char** argv) {
    const char* host = "127.0.0.1";
    int port = 0;
    double warmup = 1.0, duration = 3.0, hold = 2.0;
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    int server_pid = 0;
    for (int i = 1; i < argc; ++i) {
        const char* a = argv[i];
        if (i + 1 >= argc) usage();
        const char* v = argv[++i];
        if (!strcmp(a, "--host")) host = v;
        else if (!strcmp(a, "--port")) port = atoi(v);
        else if (!strcmp(a, "--conns")) n_conns = atoi(v);
        else if (!strcmp(a, "--size")) msg_size = (size_t)strtoull(v, NULL, 10);
        else if (!strcmp(a, "--depth")) depth = atoi(v);
        else if (!strcmp(a, "--warmup")) warmup = atof(v);
        else if (!strcmp(a, "--duration")) duration = atof(v);
        else if (!strcmp(a, "--hold")) hold = atof(v);
        else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 0) | 1;
        else if (!strcmp(a, "--server-pid")) server_pid = atoi(v);
        else if (!strcmp(a, "--mode")) {
            if (!strcmp(v, "rr")) mode = MODE_RR;
            else if (!strcmp(v, "pipe")) mode = MODE_PIPE;
            else if (!strcmp(v, "idle")) mode = MODE_IDLE;
            else usage();
        } else usage();
    }
    if (port <= 0 || port > 65535 || n_conns <= 0 || msg_size == 0 || msg_size > CHUNK || depth <= 0 ||
        duration <= 0)
        usage();
    if (mode != MODE_PIPE) depth = 1;

    raise_fd_limit(n_conns + 16);
    // No SA_RESTART: the signal interrupts epoll_wait and is answered at once.
    struct sigaction sa = {.sa_handler = on_sigusr1};
    sigaction(SIGUSR1, &sa, NULL);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "loadgen: bad IPv4 address '%s'\n", host);
        return 2;
    }

    pattern = malloc(PATTERN_PERIOD + CHUNK);
    recv_buf = malloc(CHUNK);
    conns = calloc((size_t)n_conns, sizeof *conns);
    if (!pattern || !recv_buf || !conns) {
        fprintf(stderr, "loadgen: out of memory\n");
        return 3;
    }
    uint64_t rng = seed;
    for (uint32_t i = 0; i < PATTERN_PERIOD; i += 8) {
        uint64_t x = xorshift(&rng);
        memcpy(pattern + i, &x, 8);
    }
    memcpy(pattern + PATTERN_PERIOD, pattern, CHUNK);
    for (int i = 0; i < n_conns; ++i) conns[i].seed = (uint32_t)(xorshift(&rng) % PATTERN_PERIOD);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        fprintf(stderr, "loadgen: epoll_create1: %s\n", strerror(errno));
        return 3;
    }
    connect_all(&addr, now() + 30.0 + n_conns / 1000.0);

    if (mode == MODE_IDLE) {
        printf("READY conns=%d\n", n_conns);
        fflush(stdout);
        double until = now() + hold;
        // Data or a hang-up on an idle connection is a server fault, caught by pump_recv.
        while (now() < until) poll_once((int)((until - now()) * 1000) + 1);
        // Every connection must still echo after the idle period.
        for (int i = 0; i < n_conns; ++i) {
            conns[i].send_limit = conns[i].received + msg_size;
            pump_send(i);
        }
        double deadline = now() + 30.0;
        while (total_completed() < 2ull * (uint64_t)n_conns) {
            if (now() > deadline) {
                fprintf(stderr, "loadgen: timed out waiting for echoes after the idle period\n");
                return 3;
            }
            poll_once(100);
        }
        printf("RESULT mode=idle conns=%d size=%zu depth=1 secs=%.3f msgs=%d msgs_per_sec=0 mb_per_sec=0 "
               "total_msgs=%d client_cpu=0\n",
               n_conns, msg_size, hold, n_conns, 2 * n_conns);
        return 0;
    }

    in_flight = depth;
    for (int i = 0; i < n_conns; ++i) {
        conns[i].send_limit = conns[i].received + (uint64_t)depth * msg_size;
        pump_send(i);
    }
    double t0 = now();
    double warm_end = t0 + warmup;
    while (now() < warm_end) poll_once(10);
    printf("WARM\n");
    fflush(stdout);
    double srv0[2] = {0, 0}, srv1[2] = {0, 0};
    int have_srv = server_pid > 0 && server_sched(server_pid, srv0) == 0;
    uint64_t start_msgs = total_completed();
    double start_cpu = cpu_now();
    double start = now();
    double end = start + duration;
    double t;
    while ((t = now()) < end) {
        poll_once(10);
        if (count_requested) {
            count_requested = 0;
            printf("COUNT msgs=%llu\n", (unsigned long long)(total_completed() - start_msgs));
            fflush(stdout);
        }
    }
    uint64_t msgs = total_completed() - start_msgs;
    double secs = t - start;
    double client_cpu = (cpu_now() - start_cpu) / secs;
    char srv[96] = "";
    if (have_srv && server_sched(server_pid, srv1) == 0)
        snprintf(srv, sizeof srv, " server_cpu=%.4f server_wait=%.4f", (srv1[0] - srv0[0]) / secs,
                 (srv1[1] - srv0[1]) / secs);
    double rate = (double)msgs / secs;
    // client_cpu near 1 means the load generator, not only the server, limited the rate.
    printf("RESULT mode=%s conns=%d size=%zu depth=%d secs=%.3f msgs=%llu msgs_per_sec=%.1f mb_per_sec=%.3f "
           "total_msgs=%llu client_cpu=%.2f%s\n",
           mode == MODE_RR ? "rr" : "pipe", n_conns, msg_size, depth, secs, (unsigned long long)msgs, rate,
           rate * (double)msg_size / 1e6, (unsigned long long)total_completed(), client_cpu, srv);
    return 0;
}
