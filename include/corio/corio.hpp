#pragma once
// Everything corio offers, in one include. (Programs that care about compile time can
// include just the parts they use: corio/run.hpp, corio/net.hpp, corio/file.hpp, ...)
#include "corio/errors.hpp"
#include "corio/file.hpp"
#include "corio/gather.hpp"
#include "corio/http.hpp"
#include "corio/loop.hpp"
#include "corio/net.hpp"
#include "corio/net/udp.hpp"
#include "corio/outcome.hpp"
#include "corio/run.hpp"
#include "corio/signal.hpp"
#include "corio/spawn.hpp"
#include "corio/sync.hpp"
#include "corio/task.hpp"
#include "corio/thread_pool.hpp"
#include "corio/time.hpp"
#include "corio/version.hpp"
