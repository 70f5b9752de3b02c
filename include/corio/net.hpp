#pragma once
// Networking: addresses and name resolution, TCP and Unix streams, servers, clients.
#include "corio/net/address.hpp"
#include "corio/net/connect.hpp"
#include "corio/net/resolve.hpp"
#include "corio/net/server.hpp"
#include "corio/net/stream.hpp"
#include "corio/net/unix.hpp"
