#!/usr/bin/env python3
"""asyncio's figure beside corio's: N tasks each sleep(1) under one gather.
Prints `BENCH asyncio.sleepers_wall_s` and `BENCH asyncio.sleepers_rss_per_task_bytes`."""
import asyncio
import resource
import sys
import time


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def sleeper() -> None:
    await asyncio.sleep(1)


async def main(n: int) -> None:
    before = rss_kib()
    t = time.monotonic()
    await asyncio.gather(*(sleeper() for _ in range(n)))
    wall = time.monotonic() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"BENCH asyncio.sleepers_wall_s {wall:.3f} s")
    print(f"BENCH asyncio.sleepers_rss_per_task_bytes {(peak - before) * 1024 / n:.1f} B")


asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000))
