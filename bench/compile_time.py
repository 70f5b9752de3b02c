#!/usr/bin/env python3
"""Compile time of corio's examples/echo_server.cpp against the Asio echo server in
bench/asio_echo.cpp, both -O2, alternating, median of N rounds. Prints BENCH lines."""
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CXX = os.environ.get("CXX", "c++")


def compile_seconds(source: Path, extra: list[str]) -> float:
    cmd = [CXX, "-std=c++20", "-O2", "-DNDEBUG", "-c", str(source), "-o", os.devnull] + extra
    t = time.monotonic()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.monotonic() - t


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    asio_extra = []
    if "clang" in subprocess.run([CXX, "--version"], capture_output=True, text=True).stdout:
        asio_extra = ["-DBOOST_ASIO_HAS_CO_AWAIT=1", "-DBOOST_ASIO_HAS_STD_COROUTINE=1"]
    corio, asio = [], []
    for _ in range(rounds):
        corio.append(compile_seconds(ROOT / "examples/echo_server.cpp", [f"-I{ROOT / 'include'}"]))
        asio.append(compile_seconds(ROOT / "bench/asio_echo.cpp", asio_extra))
    print(f"BENCH corio.compile_echo_server_s {statistics.median(corio):.2f} s")
    print(f"BENCH asio.compile_echo_server_s {statistics.median(asio):.2f} s")


main()
