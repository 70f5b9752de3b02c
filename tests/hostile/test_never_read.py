#!/usr/bin/env python3
"""Clients that send to the echo_server example and never read its echo. Flow control
must hold the server back: once its writes to a client are buffered past the high-water
mark it stops reading that client, so the bytes wait in the kernel's socket buffers and
the client's send finally blocks. Each client pushes until it is blocked (or 64 MiB);
the server's resident memory must grow by less than 64 MiB for the 64 clients, however
much they pushed. Once they leave, its descriptors are back and a new client is served.

usage: test_never_read.py <echo_server> [--clients N]"""
import argparse
import os
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile  # noqa: E402

NAME = "hostile_never_read"
RSS_GROWTH_BOUND_KIB = 64 * 1024
PUSH_CAP = 64 << 20  # per client: a server without flow control would hold all of it
STALLED_FOR = 1.0     # seconds with no client able to send: all of them are blocked
FD_SLACK = 2


def push_until_blocked(clients):
    """Sends to every client until none can send for STALLED_FOR seconds; returns the
    bytes each one pushed."""
    chunk = b"\x5a" * 65536
    pushed = {c: 0 for c in clients}
    open_ = [c for c in clients]
    last_progress = time.monotonic()
    deadline = time.monotonic() + 10 * hostile.TIMEOUT
    while open_ and time.monotonic() - last_progress < STALLED_FOR:
        if time.monotonic() > deadline:
            hostile.fail(NAME, "clients never stopped being able to send")
        _, writable, _ = select.select([], open_, [], 0.1)
        for c in writable:
            try:
                n = c.send(chunk)
            except BlockingIOError:
                continue
            except OSError as e:
                hostile.fail(NAME, f"send failed: {e}")
            if n:
                pushed[c] += n
                last_progress = time.monotonic()
            if pushed[c] >= PUSH_CAP:
                open_.remove(c)
    return pushed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("program")
    parser.add_argument("--clients", type=int, default=64)
    args = parser.parse_args()

    server = hostile.Server(NAME, args.program)
    fds_before, rss_before = server.fd_count(), server.rss_kib()
    clients = []
    for _ in range(args.clients):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=hostile.TIMEOUT)
        s.setblocking(False)
        clients.append(s)
    pushed = push_until_blocked(clients)
    time.sleep(0.2)  # whatever the server had read is echoed into its buffers by now
    rss_busy = server.rss_kib()
    if not server.alive():
        hostile.fail(NAME, f"echo_server died: {''.join(server.err)}")
    hostile.echo_once(NAME, server.port)
    for c in clients:
        c.close()
    fds_after = server.wait_fds(fds_before, FD_SLACK)
    hostile.echo_once(NAME, server.port, b"and after\n")
    server.stop()

    total = sum(pushed.values())
    print(f"{NAME}: {args.clients} clients pushed {total >> 20} MiB ({min(pushed.values()) >> 10}-"
          f"{max(pushed.values()) >> 10} KiB each) without reading; server RSS {rss_before} -> {rss_busy} KiB "
          f"(+{(rss_busy - rss_before) >> 10} MiB, bound {RSS_GROWTH_BOUND_KIB >> 10} MiB); "
          f"fds {fds_before} -> {fds_after}")
    if rss_busy - rss_before > RSS_GROWTH_BOUND_KIB:
        hostile.fail(NAME, f"server RSS grew {rss_busy - rss_before} KiB")
    if min(pushed.values()) < (1 << 20):
        hostile.fail(NAME, "a client was blocked before pushing 1 MiB: the scenario did not load the server")
    if fds_after > fds_before + FD_SLACK:
        hostile.fail(NAME, f"descriptors {fds_before} -> {fds_after} after the clients left")
    print(f"{NAME}: OK")


if __name__ == "__main__":
    main()
