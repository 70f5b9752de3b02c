// asio_echo: Boost.Asio echo server with C++20 coroutines, one io_context on one thread,
// the way Asio's own coroutine echo example is written.
//
//   asio_echo PORT [HOST]
#include <sys/resource.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <utility> // before Boost: 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>

// Built a second time with -DBOOST_ASIO_HAS_IO_URING -DBOOST_ASIO_DISABLE_EPOLL -luring as
// asio_uring_echo: Asio on io_uring. Without both macros, or before Boost 1.78, Asio would
// quietly serve the sockets with epoll and the io_uring rows would measure that.
#if defined(BOOST_ASIO_HAS_IO_URING) && !defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
#error "Asio's io_uring backend needs Boost >= 1.78 and BOOST_ASIO_DISABLE_EPOLL"
#endif

namespace asio = boost::asio;
using asio::ip::tcp;

static asio::awaitable<void> echo(tcp::socket socket) {
    std::array<char, 65536> data; // the same read size as the other servers
    // Errors come back as codes, not exceptions (as_tuple needs Boost >= 1.77; Debian 12 has 1.74).
    boost::system::error_code err;
    for (;;) {
        std::size_t n = co_await socket.async_read_some(asio::buffer(data),
                                                         asio::redirect_error(asio::use_awaitable, err));
        if (err) co_return;
        co_await asio::async_write(socket, asio::buffer(data.data(), n), asio::redirect_error(asio::use_awaitable, err));
        if (err) co_return;
    }
}

static asio::awaitable<void> listener(tcp::acceptor acceptor) {
    for (;;) {
        tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
        socket.set_option(tcp::no_delay(true));
        asio::co_spawn(acceptor.get_executor(), echo(std::move(socket)), asio::detached);
    }
}

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: asio_echo PORT [HOST]\n");
        return 2;
    }
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    auto port = static_cast<unsigned short>(std::atoi(argv[1]));
    auto host = asio::ip::make_address(argc > 2 ? argv[2] : "127.0.0.1");
    asio::io_context ctx(1); // concurrency hint 1: a single thread, no locking
    tcp::acceptor acceptor(ctx, tcp::endpoint(host, port)); // binds and listens (SOMAXCONN)
    asio::co_spawn(ctx, listener(std::move(acceptor)), asio::detached);
    ctx.run();
}
