#pragma once
// Everything corio offers, in one include.
#include "corio/errors.hpp"
#include "corio/gather.hpp"
#include "corio/loop.hpp"
#include "corio/outcome.hpp"
#include "corio/run.hpp"
#include "corio/spawn.hpp"
#include "corio/sync.hpp"
#include "corio/task.hpp"
#include "corio/time.hpp"
