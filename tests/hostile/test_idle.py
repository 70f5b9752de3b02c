#!/usr/bin/env python3
"""2,000 idle connections to the echo_server example: the server accepts them all (its
descriptor count rises by 2,000), a new client is still served while they sit there, and
once they leave the descriptor count is back where it started. Prints the resident
memory an idle connection costs and fails above 64 KiB each (ASan's shadow included).

usage: test_idle.py <echo_server> [--connections N]"""
import argparse
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile  # noqa: E402

NAME = "hostile_idle"
PER_CONNECTION_BOUND_KIB = 64
FD_SLACK = 2


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("program")
    parser.add_argument("--connections", type=int, default=2000)
    args = parser.parse_args()
    n = args.connections
    if hostile.raise_nofile(n + 256) < n + 64:  # the server inherits it
        hostile.fail(NAME, f"cannot raise RLIMIT_NOFILE to {n + 256}")

    server = hostile.Server(NAME, args.program)
    fds_before, rss_before = server.fd_count(), server.rss_kib()
    idle = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=hostile.TIMEOUT)
        idle.append(s)
    deadline = time.monotonic() + hostile.TIMEOUT
    while server.fd_count() < fds_before + n and time.monotonic() < deadline:
        time.sleep(0.05)
    fds_busy = server.fd_count()
    if fds_busy < fds_before + n:
        hostile.fail(NAME, f"the server holds {fds_busy - fds_before} of {n} idle connections")
    rss_busy = server.rss_kib()
    hostile.echo_once(NAME, server.port)
    for s in idle:
        s.close()
    fds_after = server.wait_fds(fds_before, FD_SLACK)
    hostile.echo_once(NAME, server.port, b"and after\n")
    server.stop()

    per_connection = (rss_busy - rss_before) / n
    print(f"{NAME}: {n} idle connections held; fds {fds_before} -> {fds_busy} -> {fds_after}; "
          f"RSS {rss_before} -> {rss_busy} KiB ({per_connection:.1f} KiB per connection)")
    if fds_after > fds_before + FD_SLACK:
        hostile.fail(NAME, f"descriptors {fds_before} -> {fds_after} after the idle clients left")
    if per_connection > PER_CONNECTION_BOUND_KIB:
        hostile.fail(NAME, f"{per_connection:.1f} KiB per idle connection (bound {PER_CONNECTION_BOUND_KIB})")
    print(f"{NAME}: OK")


if __name__ == "__main__":
    main()
