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
async def task_group_failure_cancels_siblings():
    body_cancelled = sibling_cancelled = refused = False

    async def first():
        await asyncio.sleep(0.001)
        raise RuntimeError("first")

    async def second():
        nonlocal sibling_cancelled
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            sibling_cancelled = True
            raise RuntimeError("second, while unwinding")

    async def quiet():
        await asyncio.sleep(3600)

    try:
        async with asyncio.TaskGroup() as g:
            g.create_task(first())
            g.create_task(second())
            g.create_task(quiet())  # cancelled quietly: not an error
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                body_cancelled = True
                late = quiet()
                try:
                    g.create_task(late)  # a group shutting down takes no new children
                except RuntimeError:
                    refused = True
                    late.close()
                raise
        raise AssertionError("no exception group")
    except BaseExceptionGroup as e:
        assert [str(x) for x in e.exceptions] == ["first", "second, while unwinding"]
    assert body_cancelled and sibling_cancelled and refused
    assert asyncio.current_task().cancelling() == 0
    await asyncio.sleep(0.001)  # the awaiting task is not cancelled


async def task_group_body_error_comes_last():
    async def child():
        await asyncio.sleep(0.001)
        raise RuntimeError("child")

    try:
        async with asyncio.TaskGroup() as g:
            g.create_task(child())
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                raise ValueError("body")
        raise AssertionError("no exception group")
    except BaseExceptionGroup as e:
        assert [str(x) for x in e.exceptions] == ["child", "body"]


async def task_group_outer_cancel():
    unwound = 0
    returned = False

    async def child():
        nonlocal unwound
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            pass
        await asyncio.sleep(0.001)  # unwinding takes a while
        unwound += 1
        raise asyncio.CancelledError

    async def outer():
        nonlocal returned
        async with asyncio.TaskGroup() as g:
            for _ in range(3):
                g.create_task(child())
            await asyncio.sleep(3600)
        returned = True

    t = asyncio.create_task(outer())
    await asyncio.sleep(0.001)
    assert t.cancel()
    try:
        await t
        raise AssertionError("not cancelled")
    except asyncio.CancelledError:
        pass
    assert unwound == 3 and not returned and t.cancelling() == 1


async def timeout_expiry_and_swallowed_cancel():
    unwound = False
    try:
        async with asyncio.timeout(0.001) as s:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                unwound = s.expired()
                raise
        raise AssertionError("no timeout")
    except TimeoutError:
        pass
    assert unwound
    # The work swallows the cancellation and goes on: no TimeoutError.
    async with asyncio.timeout(0.001) as s:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            pass
    assert s.expired()
    assert asyncio.current_task().cancelling() == 0


async def timeout_nested():
    inner_timed_out = False
    async with asyncio.timeout(3600) as outer:
        try:
            async with asyncio.timeout(0.001):
                await asyncio.sleep(3600)
        except TimeoutError:
            inner_timed_out = True
    assert inner_timed_out and not outer.expired()

    inner_saw_cancel = False
    inner_expired = True
    try:
        async with asyncio.timeout(0.001):
            try:
                async with asyncio.timeout(3600) as inner:
                    try:
                        await asyncio.sleep(3600)
                    finally:
                        inner_expired = inner.expired()
            except asyncio.CancelledError:
                inner_saw_cancel = True
                raise
        raise AssertionError("no timeout")
    except TimeoutError:
        pass
    assert inner_saw_cancel and not inner_expired


async def timeout_outer_cancel_passes_through():
    loop = asyncio.get_running_loop()
    expired = False
    deadline = loop.time() + 0.02

    async def victim():
        nonlocal expired
        async with asyncio.timeout_at(deadline) as s:
            try:
                await asyncio.sleep(3600)
            finally:
                expired = s.expired()

    t = asyncio.create_task(victim())
    loop.call_at(deadline, t.cancel)  # due with the deadline: both before the task resumes
    try:
        await t
        raise AssertionError("not cancelled")
    except asyncio.CancelledError:
        pass
    assert expired


async def timeout_reschedule():
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(0.001) as s:
        s.reschedule(loop.time() + 3600)  # later: the work finishes
        await asyncio.sleep(0.02)
    assert not s.expired()
    refused = False
    try:
        async with asyncio.timeout(3600) as s:
            await asyncio.sleep(0)
            s.reschedule(loop.time() - 0.001)  # in the past: expires on the next turn
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                try:
                    s.reschedule(loop.time() + 3600)
                except RuntimeError:
                    refused = True
                raise
        raise AssertionError("no timeout")
    except TimeoutError:
        pass
    assert refused


async def shield_keeps_the_work():
    go = asyncio.Event()
    finished = False

    async def work():
        nonlocal finished
        await go.wait()
        finished = True
        return 1

    async def awaiter():
        return await asyncio.shield(work())

    t = asyncio.create_task(awaiter())
    await asyncio.sleep(0.001)
    assert t.cancel()
    try:
        await t
        raise AssertionError("not cancelled")
    except asyncio.CancelledError:
        pass
    assert not finished  # the awaiter left before the work ended
    go.set()
    await asyncio.sleep(0.001)
    assert finished  # and the work was not cancelled


async def as_completed_order():
    async def after(ms):
        await asyncio.sleep(ms / 1000)
        if ms == 20:
            raise RuntimeError("twenty")
        return ms

    got = []
    for next_done in asyncio.as_completed([after(30), after(1), after(20), after(10)]):
        try:
            got.append(await next_done)
        except RuntimeError:
            got.append(-1)
    assert got == [1, 10, -1, 30]
async def condition_cancelled_wait_reacquires():
    cond = asyncio.Condition()
    held_when_cancelled = None

    async def waiter():
        nonlocal held_when_cancelled
        async with cond:
            try:
                await cond.wait()
            except asyncio.CancelledError:
                held_when_cancelled = cond.locked()
                raise

    w = asyncio.create_task(waiter())
    for _ in range(2):
        await asyncio.sleep(0)
    await cond.acquire()  # the waiter must wait for this to be released
    assert w.cancel()
    for _ in range(3):
        await asyncio.sleep(0)
    assert not w.done()
    assert w.cancel()  # cancelled again while it waits for the lock: swallowed
    for _ in range(3):
        await asyncio.sleep(0)
    assert not w.done()
    cond.release()
    await asyncio.gather(w, return_exceptions=True)
    assert w.cancelled() and held_when_cancelled and not cond.locked()


async def condition_notify_fifo():
    cond = asyncio.Condition()
    order = []

    async def waiter(i):
        async with cond:
            await cond.wait()
            order.append(i)

    tasks = [asyncio.create_task(waiter(i)) for i in range(5)]
    for _ in range(2):
        await asyncio.sleep(0)
    async with cond:
        cond.notify(2)
    for _ in range(3):
        await asyncio.sleep(0)
    assert order == [0, 1]
    async with cond:
        cond.notify_all()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]


async def condition_wait_for_result():
    cond = asyncio.Condition()
    items = 0

    async def consumer():
        nonlocal items
        async with cond:
            seen = await cond.wait_for(lambda: items)
            assert cond.locked()
            items -= 1
            return seen

    c = asyncio.create_task(consumer())
    for _ in range(2):
        await asyncio.sleep(0)
    async with cond:
        items = 2
        cond.notify()
    assert await c == 2 and items == 1 and not cond.locked()


async def barrier_cancelled_waiter_leaves():
    b = asyncio.Barrier(2)
    w = asyncio.create_task(b.wait())
    for _ in range(2):
        await asyncio.sleep(0)
    assert b.n_waiting == 1
    assert w.cancel()
    await asyncio.gather(w, return_exceptions=True)
    assert w.cancelled() and b.n_waiting == 0 and not b.broken
    x = asyncio.create_task(b.wait())
    await asyncio.sleep(0)
    assert await b.wait() == 1
    assert await x == 0


async def barrier_abort_and_reset():
    b = asyncio.Barrier(3)
    w = asyncio.create_task(b.wait())
    for _ in range(2):
        await asyncio.sleep(0)
    await b.abort()
    assert b.broken
    try:
        await w
        raise AssertionError("not broken")
    except asyncio.BrokenBarrierError:
        pass
    try:
        await b.wait()
        raise AssertionError("not broken")
    except asyncio.BrokenBarrierError:
        pass
    assert b.n_waiting == 0
    await b.reset()
    assert not b.broken


async def barrier_reset_breaks_waiters():
    b = asyncio.Barrier(3)
    x = asyncio.create_task(b.wait())
    y = asyncio.create_task(b.wait())
    for _ in range(2):
        await asyncio.sleep(0)
    assert b.n_waiting == 2
    await b.reset()
    assert b.n_waiting == 0
    results = await asyncio.gather(x, y, return_exceptions=True)
    assert all(isinstance(r, asyncio.BrokenBarrierError) for r in results)
    assert not b.broken
    z = asyncio.create_task(b.wait())
    for _ in range(2):
        await asyncio.sleep(0)
    assert b.n_waiting == 1


async def barrier_arrival_while_draining():
    b = asyncio.Barrier(2)
    a = asyncio.create_task(b.wait())
    await asyncio.sleep(0)
    bb = asyncio.create_task(b.wait())  # releases the round
    c = asyncio.create_task(b.wait())  # arrives before the round has drained
    for _ in range(3):
        await asyncio.sleep(0)
    assert a.done() and bb.done() and not c.done()
    assert b.n_waiting == 1  # c is the first of the next round
    assert await b.wait() == 1
    assert await c == 0


async def bounded_semaphore_release_too_many():
    s = asyncio.BoundedSemaphore(1)
    try:
        s.release()
        raise AssertionError("released past the bound")
    except ValueError:
        pass
    await s.acquire()

    async def waiter():
        await s.acquire()
        s.release()

    w = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    s.release()  # w is woken with the permit, which leaves _value at once
    assert s._value == 0
    s.release()  # one too many, not yet visible
    assert s._value == 1
    r = await asyncio.gather(w, return_exceptions=True)
    assert isinstance(r[0], ValueError)  # w's own release finds the bound reached
    assert s._value == 1


async def priority_and_lifo_order():
    pq = asyncio.PriorityQueue()
    for v in (5, 1, 4, 2, 3):
        await pq.put(v)
    assert [pq.get_nowait() for _ in range(5)] == [1, 2, 3, 4, 5]
    lq = asyncio.LifoQueue()
    for v in (1, 2, 3):
        lq.put_nowait(v)
    assert [lq.get_nowait() for _ in range(3)] == [3, 2, 1]


async def lifo_item_of_cancelled_getter():
    q = asyncio.LifoQueue()
    g = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.put_nowait(10)  # g is woken for it
    q.put_nowait(20)
    assert g.cancel()
    await asyncio.gather(g, return_exceptions=True)
    assert g.cancelled() and q.qsize() == 2
    assert q.get_nowait() == 20 and q.get_nowait() == 10


async def queue_shutdown():
    # asyncio.Queue.shutdown is new in 3.13; on older versions this scenario is skipped.
    if not hasattr(asyncio.Queue, "shutdown"):
        return "skipped: needs Python 3.13 (Queue.shutdown)"
    q = asyncio.Queue()
    q.put_nowait(1)
    q.put_nowait(2)
    q.shutdown()
    try:
        q.put_nowait(3)
        raise AssertionError("put after shutdown")
    except asyncio.QueueShutDown:
        pass
    assert await q.get() == 1 and q.get_nowait() == 2
    try:
        await q.get()
        raise AssertionError("get from an empty shut-down queue")
    except asyncio.QueueShutDown:
        pass
    empty = asyncio.Queue()
    g = asyncio.create_task(empty.get())
    await asyncio.sleep(0)
    empty.shutdown()
    r = await asyncio.gather(g, return_exceptions=True)
    assert isinstance(r[0], asyncio.QueueShutDown)
    # immediate: the items are dropped and count as done; the one taken does not
    q = asyncio.Queue()
    for i in range(3):
        q.put_nowait(i)
    assert q.get_nowait() == 0
    joiner = asyncio.create_task(q.join())
    await asyncio.sleep(0)
    q.shutdown(immediate=True)
    assert q.empty()
    await asyncio.sleep(0)
    assert not joiner.done()
    q.task_done()
    await joiner


SCENARIOS = [cancel_before_start, double_cancel, lock_after_wake, queue_after_wake,
             semaphore_after_wake, event_after_wake, cancelled_while_running_then_returns,
             subprocess_wait_cancelled,
             task_group_failure_cancels_siblings, task_group_body_error_comes_last,
             task_group_outer_cancel, timeout_expiry_and_swallowed_cancel, timeout_nested,
             timeout_outer_cancel_passes_through, timeout_reschedule, shield_keeps_the_work,
             as_completed_order,
             condition_cancelled_wait_reacquires, condition_notify_fifo, condition_wait_for_result,
             barrier_cancelled_waiter_leaves, barrier_abort_and_reset, barrier_reset_breaks_waiters,
             barrier_arrival_while_draining, bounded_semaphore_release_too_many,
             priority_and_lifo_order, lifo_item_of_cancelled_getter, queue_shutdown]


if __name__ == "__main__":
    if sys.version_info < (3, 11):
        print("SKIP: asyncio twin needs Python 3.11 (Task.cancelling)")
        sys.exit(0)
    for scenario in SCENARIOS:
        skipped = asyncio.run(scenario())
        print(skipped or "asyncio agrees:", scenario.__name__)
