#!/usr/bin/env python3
"""The asyncio side of test_asyncio_semantics.cpp: each scenario here is written the same
way there, and asserts what asyncio does. (Equal deadlines are not here: asyncio's timer
heap does not keep them in order, and corio does; see docs/asyncio-differences.md.) CTest runs it, so the expectations the C++ tests
hold corio to are checked against the real thing on every run."""
import asyncio
import os
import signal
import sys


async def cancel_before_start():
    reached = False

    async def body():
        nonlocal reached
        reached = True
        await asyncio.sleep(1)

    t = asyncio.create_task(body())
    assert t.cancel()
    try:
        await t
        raise AssertionError("not cancelled")
    except asyncio.CancelledError:
        pass
    assert not reached and t.cancelled()


async def double_cancel():
    caught = 0
    went_on = False

    async def body():
        nonlocal caught, went_on
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            caught += 1
        await asyncio.sleep(0.001)
        went_on = True

    t = asyncio.create_task(body())
    await asyncio.sleep(0)
    assert t.cancel() and t.cancel()
    assert t.cancelling() == 2
    await t
    assert caught == 1 and went_on and not t.cancelled()
    assert t.uncancel() == 1


async def lock_after_wake():
    lock = asyncio.Lock()
    order = []
    await lock.acquire()

    async def waiter(name):
        async with lock:
            order.append(name)

    b = asyncio.create_task(waiter("b"))
    c = asyncio.create_task(waiter("c"))
    await asyncio.sleep(0)
    lock.release()  # b is woken
    assert b.cancel()  # before b resumes
    await asyncio.gather(b, c, return_exceptions=True)
    assert b.cancelled() and order == ["c"] and not lock.locked()


async def queue_after_wake():
    q = asyncio.Queue()
    got = []

    async def getter(name):
        got.append((name, await q.get()))

    g1 = asyncio.create_task(getter("g1"))
    g2 = asyncio.create_task(getter("g2"))
    await asyncio.sleep(0)
    q.put_nowait("x")  # g1 is woken
    assert g1.cancel()
    await asyncio.gather(g1, g2, return_exceptions=True)
    assert g1.cancelled() and got == [("g2", "x")] and q.empty()


async def semaphore_after_wake():
    s = asyncio.Semaphore(1)
    await s.acquire()

    async def waiter():
        await s.acquire()

    w = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    s.release()  # w is woken
    assert w.cancel()
    await asyncio.gather(w, return_exceptions=True)
    assert w.cancelled() and s._value == 1


async def event_after_wake():
    ev = asyncio.Event()
    w = asyncio.create_task(ev.wait())
    await asyncio.sleep(0)
    ev.set()
    assert w.cancel()
    await asyncio.gather(w, return_exceptions=True)
    assert w.cancelled()


async def cancelled_while_running_then_returns():
    async def body():
        asyncio.current_task().cancel()
        return 5

    t = asyncio.create_task(body())
    await asyncio.gather(t, return_exceptions=True)
    assert t.cancelled()


async def subprocess_wait_cancelled():
    # corio: tests/process/test_subprocess.cpp, "cancelling wait() leaves the child running"
    # and "exit codes, and minus the signal for a killed child".
    p = await asyncio.create_subprocess_exec("sleep", "100")
    w = asyncio.create_task(p.wait())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert w.cancel()
    await asyncio.gather(w, return_exceptions=True)
    assert w.cancelled() and p.returncode is None
    os.kill(p.pid, 0)  # still running
    p.terminate()
    assert await p.wait() == -signal.SIGTERM
    try:
        p.kill()
        raise AssertionError("kill() after the child was reaped must raise")
    except ProcessLookupError:
        pass
    try:
        await asyncio.create_subprocess_exec("corio-no-such-program")
        raise AssertionError("a missing program must raise, not exit 127")
    except FileNotFoundError:
        pass


SCENARIOS = [cancel_before_start, double_cancel, lock_after_wake, queue_after_wake,
             semaphore_after_wake, event_after_wake, cancelled_while_running_then_returns,
             subprocess_wait_cancelled]

if __name__ == "__main__":
    if sys.version_info < (3, 11):
        print("SKIP: asyncio twin needs Python 3.11 (Task.cancelling)")
        sys.exit(0)
    for scenario in SCENARIOS:
        asyncio.run(scenario())
        print("asyncio agrees:", scenario.__name__)
