#!/usr/bin/env python3
"""Chaos against the echo_server example: clients picked at random (a plain echo, a
half-close, an abrupt reset with SO_LINGER 0, a 1-byte trickle, a 1 MiB burst) for
--seconds (20 under CTest). Every echoed byte is checked: bytes verified must equal bytes
sent, with no mismatch; afterwards the server's descriptors are back to where they
started, its resident memory grew by less than 128 MiB, and a new client is served.

usage: test_chaos.py <echo_server> [--seconds N] [--workers N] [--seed N]"""
import argparse
import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile  # noqa: E402

NAME = "hostile_chaos"
RSS_GROWTH_BOUND_KIB = 128 * 1024
FD_SLACK = 2


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("program")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    server = hostile.Server(NAME, args.program)
    fds_before, rss_before = server.fd_count(), server.rss_kib()
    totals = asyncio.run(hostile.Chaos(server.port, args.seed).run(args.seconds, args.workers))
    if not server.alive():
        hostile.fail(NAME, f"echo_server died: {''.join(server.err)}")
    fds_after = server.wait_fds(fds_before, FD_SLACK)
    rss_after = server.rss_kib()
    hostile.echo_once(NAME, server.port)
    server.stop()

    print(f"{NAME}: {totals.connections} connections {totals.kinds}, {totals.bytes_verified} of "
          f"{totals.bytes_sent} bytes verified, {totals.mismatches} mismatches, {totals.reset_bytes} bytes "
          f"left unread by resets; fds {fds_before} -> {fds_after}, RSS {rss_before} -> {rss_after} KiB")
    for f in totals.failures[:10]:
        print(f"  {f}")
    if totals.mismatches or totals.bytes_verified != totals.bytes_sent:
        hostile.fail(NAME, f"{totals.mismatches} mismatches, {totals.bytes_verified} of {totals.bytes_sent} verified")
    if set(totals.kinds) != set(hostile.Chaos.KINDS):
        hostile.fail(NAME, f"not every kind of client ran: {totals.kinds}")
    if fds_after > fds_before + FD_SLACK:
        hostile.fail(NAME, f"descriptors {fds_before} -> {fds_after} after every client left")
    if rss_after - rss_before > RSS_GROWTH_BOUND_KIB:
        hostile.fail(NAME, f"RSS grew {rss_after - rss_before} KiB (bound {RSS_GROWTH_BOUND_KIB})")
    print(f"{NAME}: OK")


if __name__ == "__main__":
    main()
