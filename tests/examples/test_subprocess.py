#!/usr/bin/env python3
"""Checks the subprocess example: text piped through sort comes back sorted (and reversed
with --reverse), a large input passes through without the pipes stalling, and a sort
program that does not exist is reported as an error, not as a child exiting 127."""
import subprocess
import sys


def fail(message):
    print(f"test_subprocess: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def run(program, *args):
    return subprocess.run([program, *args], capture_output=True, text=True, timeout=60)


def main():
    if len(sys.argv) != 2:
        fail("usage: test_subprocess.py <path to subprocess>")
    program = sys.argv[1]

    r = run(program)
    if r.returncode != 0 or r.stdout != "apple\nbanana\ncherry\nfig\npear\n":
        fail(f"default run: status {r.returncode}, stdout {r.stdout!r}, stderr {r.stderr!r}")
    if "sort exited with 0" not in r.stderr:
        fail(f"default run: no exit status on stderr: {r.stderr!r}")

    r = run(program, "--reverse", "b", "c", "a")
    if r.returncode != 0 or r.stdout != "c\nb\na\n":
        fail(f"--reverse: status {r.returncode}, stdout {r.stdout!r}")

    # About 1.3 MB each way: more than any pipe buffer, so writing and reading must overlap.
    r = run(program, "--repeat", "100000", "zeta", "alpha")
    expected = "alpha\n" * 100000 + "zeta\n" * 100000
    if r.returncode != 0 or r.stdout != expected:
        fail(f"--repeat 100000: status {r.returncode}, {len(r.stdout)} bytes out, expected {len(expected)}")

    r = run(program, "--sort", "corio-no-such-sort")
    if r.returncode != 1 or "corio-no-such-sort" not in r.stderr or "No such file" not in r.stderr:
        fail(f"missing program: status {r.returncode}, stderr {r.stderr!r}")
    print("test_subprocess: OK")


if __name__ == "__main__":
    main()
