#pragma once
// Every synchronisation primitive, with asyncio's semantics: FIFO wake-up, waits that can
// be cancelled and leave the primitive consistent. Ownership (a lock, a permit, an item)
// is handed straight to the woken waiter, so nobody can slip in between. Each lives in a
// header of its own; this one includes them all.
#include "corio/barrier.hpp"
#include "corio/condition.hpp"
#include "corio/event.hpp"
#include "corio/lock.hpp"
#include "corio/queue.hpp"
#include "corio/semaphore.hpp"
