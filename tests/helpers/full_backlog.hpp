#pragma once
// A listener on 127.0.0.1 that accepts nothing, with its backlog full: further SYNs are
// dropped, so a connect to it stays pending (a blackhole on loopback) until drain()
// makes room and the client's retransmitted SYN (about a second later) gets through.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

#include <corio/net/address.hpp>

#include "corio_test.hpp"

namespace test_support {

struct full_backlog {
    int listener = -1;
    std::vector<int> fillers;
    std::uint16_t port = 0;

    full_backlog() {
        listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a);
        ::listen(listener, 0);
        socklen_t len = sizeof a;
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
        port = ntohs(a.sin_port);
        for (int i = 0; i < 64; ++i) {
            int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            fillers.push_back(fd);
            ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
            pollfd p{fd, POLLOUT, 0};
            if (::poll(&p, 1, 200) == 0) return; // this one is stuck: the backlog is full
        }
        FAIL("could not fill the listen backlog");
    }
    ~full_backlog() {
        for (int fd : fillers) ::close(fd);
        ::close(listener);
    }
    full_backlog(const full_backlog&) = delete;
    full_backlog& operator=(const full_backlog&) = delete;

    corio::endpoint address() const { return corio::endpoint(corio::ip_address::loopback_v4(), port); }

    /// Makes room for one more connection: the fillers go (a stuck one would otherwise
    /// take the room with its own retransmitted SYN) and what is queued is accepted and
    /// closed.
    void drain() {
        for (int fd : fillers) ::close(fd);
        fillers.clear();
        ::fcntl(listener, F_SETFL, ::fcntl(listener, F_GETFL) | O_NONBLOCK);
        for (int fd; (fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) ::close(fd);
    }
};

} // namespace test_support
