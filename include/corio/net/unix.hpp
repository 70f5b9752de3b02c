#pragma once
// Unix domain stream sockets (asyncio.open_unix_connection / start_unix_server): the same
// stream and server as TCP, addressed by a filesystem path. A path starting with '\0' is
// a Linux abstract socket. The server removes a stale socket file before binding and its
// own socket file when it closes.
#include <string>
#include <utility>

#include "corio/net/address.hpp"
#include "corio/net/connect.hpp"
#include "corio/net/server.hpp"
#include "corio/net/stream.hpp"
#include "corio/task.hpp"

namespace corio {

/// Errors name the path ("connect /tmp/app.sock: No such file or directory").
inline task<stream> open_unix_connection(std::string path) {
    return detail::connect_to(endpoint::local(std::move(path)));
}

template <class Handler>
task<server> start_unix_server(Handler handler, std::string path, server_options opts = {}) {
    auto st = detail::make_server_state(std::move(handler), opts);
    st->listen_on(endpoint::local(std::move(path)));
    st->start_serving();
    co_return server(std::move(st));
}

} // namespace corio
