#!/usr/bin/env python3
"""Runs the http_get example against Python's http.server (a server that is not corio):
several URLs fetched at once, sizes and statuses as the files say, --body printing bodies,
and a failing URL reported without stopping the others."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

LINE = re.compile(r"^(\d{3}|ERR)\s+(\d+|-)\s*(?:bytes)?\s+([\d.]+) ms\s+(\S+?)(?::\s.*)?$")


def fail(message):
    print(f"test_http_get: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, server):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if server.poll() is not None:
            fail(f"http.server exited early with {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    fail("http.server did not start listening")


def run(program, *args, expect_rc=0):
    result = subprocess.run([program, *args], capture_output=True, timeout=60)
    if result.returncode != expect_rc:
        status = (f"was killed by {signal.Signals(-result.returncode).name}"
                  if result.returncode < 0 else f"exited with {result.returncode}")
        fail(f"{' '.join([program, *args])} {status} (expected {expect_rc})\n"
             f"{result.stdout.decode(errors='replace')}{result.stderr.decode(errors='replace')}")
    return result.stdout


def summary(stdout):
    found = {}
    for line in stdout.decode(errors="replace").splitlines():
        m = LINE.match(line)
        if m:
            found[m.group(4)] = (m.group(1), m.group(2))
    return found


def main():
    if len(sys.argv) != 2:
        fail("usage: test_http_get.py <path to http_get>")
    program = sys.argv[1]
    root = tempfile.mkdtemp(prefix="corio_http_get_")
    server = None
    try:
        with open(os.path.join(root, "hello.txt"), "w") as f:
            f.write("hello from python\n")
        big = bytes((i * 7919) % 251 for i in range(3 * 1024 * 1024 + 17))
        with open(os.path.join(root, "big.bin"), "wb") as f:
            f.write(big)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", root],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_listening(port, server)
        base = f"http://127.0.0.1:{port}"

        urls = [f"{base}/hello.txt", f"{base}/big.bin", f"{base}/missing", f"{base}/hello.txt?again=1"]
        got = summary(run(program, *urls))
        expected = {urls[0]: ("200", "18"), urls[1]: ("200", str(len(big))), urls[2]: ("404", None),
                    urls[3]: ("200", "18")}
        for url, (status, size) in expected.items():
            if url not in got:
                fail(f"no line for {url}: {got}")
            if got[url][0] != status or (size is not None and got[url][1] != size):
                fail(f"{url}: got {got[url]}, expected status {status} size {size}")

        out = run(program, "--body", f"{base}/hello.txt")
        if b"hello from python\n" not in out:
            fail(f"--body did not print the body: {out!r}")

        # A refused connection is reported; the other URL is still fetched.
        closed = f"http://127.0.0.1:{free_port()}/"
        out = run(program, f"{base}/hello.txt", closed, expect_rc=1)
        got = summary(out)
        if got.get(f"{base}/hello.txt", ("", ""))[0] != "200" or got.get(closed, ("", ""))[0] != "ERR":
            fail(f"expected one success and one error: {out!r}")
        out = run(program, "https://example.com/", expect_rc=1)
        if b"TLS" not in out:
            fail(f"https:// should say TLS is not supported: {out!r}")
        run(program, expect_rc=2)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(root, ignore_errors=True)
    print("test_http_get: ok")


if __name__ == "__main__":
    main()
