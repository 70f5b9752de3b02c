// epoll_echo: the baseline echo server, a hand-written single-threaded edge-triggered
// epoll loop in C: the practical limit a library can approach.
//
//   epoll_echo PORT [HOST]
//
// Each connection is registered once (in and out, edge-triggered). Reads go into one
// shared buffer until EAGAIN and are written straight back; only bytes the socket would
// not take are copied into a per-connection buffer, and reading on that connection stops
// until they are flushed (back-pressure).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE 65536

struct conn {
    int fd;
    size_t pending_len;
    char* pending; // unsent bytes, NULL when everything was written
};

static char buf[BUF_SIZE];

static void close_conn(struct conn* c) {
    close(c->fd); // closing also removes it from the epoll set
    free(c->pending);
    free(c);
}

// Writes the unsent bytes; returns 1 when all went, 0 if the socket is full, -1 on error.
static int flush_pending(struct conn* c) {
    size_t off = 0;
    while (off < c->pending_len) {
        ssize_t w = send(c->fd, c->pending + off, c->pending_len - off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) break;
            return -1;
        }
        off += (size_t)w;
    }
    if (off == c->pending_len) {
        free(c->pending);
        c->pending = NULL;
        c->pending_len = 0;
        return 1;
    }
    memmove(c->pending, c->pending + off, c->pending_len - off);
    c->pending_len -= off;
    return 0;
}

// Echoes until the socket has nothing more to read or cannot take more; returns -1 when
// the connection is finished.
static int echo(struct conn* c) {
    for (;;) {
        ssize_t r = recv(c->fd, buf, BUF_SIZE, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN ? 0 : -1;
        }
        if (r == 0) return -1;
        size_t off = 0;
        while (off < (size_t)r) {
            ssize_t w = send(c->fd, buf + off, (size_t)r - off, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EINTR) continue;
                if (errno != EAGAIN) return -1;
                c->pending_len = (size_t)r - off;
                c->pending = malloc(c->pending_len);
                if (!c->pending) return -1;
                memcpy(c->pending, buf + off, c->pending_len);
                return 0; // resume reading once EPOLLOUT says the rest went out
            }
            off += (size_t)w;
        }
    }
}

int main(int argc, char** argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: epoll_echo PORT [HOST]\n");
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

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "epoll_echo: bad IPv4 address '%s'\n", host);
        return 2;
    }
    if (bind(lfd, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(lfd, SOMAXCONN) != 0) {
        fprintf(stderr, "epoll_echo: cannot listen on %s:%d: %s\n", host, port, strerror(errno));
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN | EPOLLET, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);

    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("epoll_echo: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; ++i) {
            struct conn* c = evs[i].data.ptr;
            if (!c) {
                for (;;) {
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED) continue;
                        if (errno != EAGAIN) perror("epoll_echo: accept4");
                        break;
                    }
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct conn* nc = calloc(1, sizeof *nc);
                    nc->fd = fd;
                    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = nc};
                    // Registration reports data that is already there, so no read here.
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            uint32_t e = evs[i].events;
            if (e & EPOLLERR) {
                close_conn(c);
                continue;
            }
            if (c->pending) {
                int f = flush_pending(c);
                if (f < 0) {
                    close_conn(c);
                    continue;
                }
                if (f == 0) continue; // still blocked: wait for the next EPOLLOUT
            }
            if (echo(c) < 0) close_conn(c);
        }
    }
}
