#!/usr/bin/env python3
"""Checks the count example: two counters interleave when async and run back to back when sync,
and the async run takes about half the time of the sync one."""
import signal
import subprocess
import sys
import time

ASYNC_ORDER = [0, 10, 1, 11, 2, 12, 3, 13, 4, 14]
SYNC_ORDER = [0, 1, 2, 3, 4, 10, 11, 12, 13, 14]
ATTEMPTS = 3  # the machine is noisy; only the timing is retried


def fail(message):
    print(f"test_count: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def run(program, *args):
    start = time.monotonic()
    result = subprocess.run([program, *args], capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - start
    if result.returncode != 0:
        status = (f"was killed by {signal.Signals(-result.returncode).name}"
                  if result.returncode < 0 else f"exited with {result.returncode}")
        fail(f"{' '.join([program, *args])} {status}\n{result.stderr}")
    numbers = []
    for line in result.stdout.splitlines():
        try:
            numbers.append(int(line.strip()))
        except ValueError:
            pass  # headers and other chatter are allowed
    return numbers, elapsed


def main():
    if len(sys.argv) != 2:
        fail("usage: test_count.py <path to count>")
    program = sys.argv[1]
    for attempt in range(1, ATTEMPTS + 1):
        async_numbers, async_time = run(program, "--interval", "100")
        sync_numbers, sync_time = run(program, "--sync", "--interval", "100")
        if async_numbers != ASYNC_ORDER:
            fail(f"async order {async_numbers}, expected {ASYNC_ORDER}")
        if sync_numbers != SYNC_ORDER:
            fail(f"sync order {sync_numbers}, expected {SYNC_ORDER}")
        ratio = async_time / sync_time if sync_time > 0 else float("inf")
        print(f"attempt {attempt}: async {async_time:.3f}s, sync {sync_time:.3f}s, ratio {ratio:.2f}")
        if 0.35 <= ratio <= 0.75:
            print("test_count: OK")
            return
    fail(f"async/sync time ratio {ratio:.2f} outside [0.35, 0.75] in {ATTEMPTS} attempts")


if __name__ == "__main__":
    main()
