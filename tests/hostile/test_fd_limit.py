#!/usr/bin/env python3
"""The echo_server example under `ulimit -n 256` with 1,000 clients, each sending a line
and leaving once it has the line back. The server runs out of descriptors almost at
once; the clients beyond what fits wait in the listen backlog and are served as earlier
ones leave, so every one of the 1,000 gets its echo. Afterwards a new client is served
and the server's descriptor count (/proc/<pid>/fd) is back where it started.

Under UBSan this must run a build of echo_server without the vptr check (CMake builds
one for it): with the descriptor table full, that check cannot open the pipe(2) it
probes memory through and reports "invalid vptr" for objects that are fine.

usage: test_fd_limit.py <echo_server> [--clients N] [--nofile N]"""
import argparse
import os
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile  # noqa: E402

NAME = "hostile_fd_limit"
FD_SLACK = 2


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("program")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--nofile", type=int, default=256)
    args = parser.parse_args()
    if hostile.raise_nofile(args.clients + 256) < args.clients + 64:
        hostile.fail(NAME, f"cannot raise this driver's RLIMIT_NOFILE to {args.clients + 256}")

    server = hostile.Server(NAME, args.program, nofile=args.nofile)
    fds_before = server.fd_count()
    waiting = {}  # socket -> (line sent, bytes back so far)
    for i in range(args.clients):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=hostile.TIMEOUT)
        line = f"client {i} says hello\n".encode()
        s.sendall(line)
        s.setblocking(False)
        waiting[s] = (line, b"")
    most_fds = server.fd_count()

    served = 0
    last_progress = time.monotonic()
    while waiting:
        if time.monotonic() - last_progress > hostile.TIMEOUT:
            hostile.fail(NAME, f"{len(waiting)} clients still waiting, {served} served")
        readable, _, _ = select.select(list(waiting), [], [], 0.2)
        most_fds = max(most_fds, server.fd_count())
        for s in readable:
            line, got = waiting[s]
            try:
                chunk = s.recv(4096)
            except OSError as e:
                hostile.fail(NAME, f"client error: {e}")
            if not chunk:
                hostile.fail(NAME, f"closed by the server after {got!r} of {line!r}")
            got += chunk
            if not line.startswith(got):
                hostile.fail(NAME, f"echo {got!r} for {line!r}")
            if got == line:
                del waiting[s]
                s.close()  # leaves: its descriptor in the server frees up
                served += 1
                last_progress = time.monotonic()
            else:
                waiting[s] = (line, got)
    if not server.alive():
        hostile.fail(NAME, f"echo_server died: {''.join(server.err)}")
    fds_after = server.wait_fds(fds_before, FD_SLACK)
    hostile.echo_once(NAME, server.port)
    server.stop()

    print(f"{NAME}: {served} of {args.clients} clients served under a limit of {args.nofile} descriptors "
          f"(at most {most_fds} open); fds {fds_before} -> {fds_after} after they left")
    if most_fds < args.nofile - 8:
        hostile.fail(NAME, f"the server never neared its limit ({most_fds} of {args.nofile}): nothing was tested")
    if fds_after > fds_before + FD_SLACK:
        hostile.fail(NAME, f"descriptors {fds_before} -> {fds_after} after the clients left")
    print(f"{NAME}: OK")


if __name__ == "__main__":
    main()
