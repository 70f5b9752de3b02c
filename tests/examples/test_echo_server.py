#!/usr/bin/env python3
"""Checks the echo_server example with clients not written with corio (Python's asyncio
streams), then with the echo_client example: every byte comes back, one line per client
connecting and leaving (with its address), half-close, --quiet, and a clean shutdown on
SIGINT (the process ends as killed by SIGINT, like an interrupted asyncio program) and on
SIGTERM (exit status 0), cancelling the clients still connected; --backlog sets the listen
queue and a bad number for it or for --port is refused with status 2."""
import asyncio
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

TIMEOUT = 20


def fail(message):
    print(f"test_echo_server: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


class Server:
    """echo_server in a child process; its output lines are collected by a thread."""

    def __init__(self, program, *args):
        self.proc = subprocess.Popen([program, "--host", "127.0.0.1", "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.fresh = queue.Queue()
        self.collector = threading.Thread(target=self._collect, daemon=True)
        self.collector.start()
        first = self.next_line()
        if not first.startswith("Serving on 127.0.0.1:"):
            fail(f"first line {first!r}, expected 'Serving on 127.0.0.1:PORT'")
        self.port = int(first.rsplit(":", 1)[1])

    def _collect(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            self.fresh.put(line.rstrip("\n"))
        self.fresh.put(None)

    def next_line(self):
        try:
            line = self.fresh.get(timeout=TIMEOUT)
        except queue.Empty:
            fail("echo_server printed nothing in time")
        if line is None:
            fail(f"echo_server exited early: {self.proc.wait()}\n{self.proc.stderr.read()}")
        return line

    def wait_for_line(self, start):
        deadline = time.monotonic() + TIMEOUT
        while not any(line.startswith(start) for line in self.lines):
            if time.monotonic() > deadline:
                fail(f"no line starting with {start!r} in {self.lines}")
            time.sleep(0.01)

    def stop(self, signo):
        self.proc.send_signal(signo)
        try:
            code = self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail(f"echo_server did not exit on signal {signo}")
        self.collector.join(TIMEOUT)  # every line printed is in self.lines now
        err = self.proc.stderr.read()
        if "Sanitizer" in err or "runtime error" in err:
            fail(f"sanitizer report:\n{err}")
        return code, err


async def echo_bulk(port, data, chunk):
    """Sends `data` in chunks, half-closes, and reads everything back until EOF."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    local = "%s:%d" % writer.get_extra_info("sockname")[:2]

    async def send():
        for i in range(0, len(data), chunk):
            writer.write(data[i:i + chunk])
            await writer.drain()
        writer.write_eof()

    _, received = await asyncio.gather(send(), reader.read())
    writer.close()
    await writer.wait_closed()
    return local, received


async def echo_lines(port, lines):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for line in lines:
        writer.write(line)
        await writer.drain()
        back = await asyncio.wait_for(reader.readline(), TIMEOUT)
        if back != line:
            fail(f"line echo {back!r}, expected {line!r}")
    writer.close()
    await writer.wait_closed()


async def talk(port):
    rng = random.Random(7)
    payloads = [rng.randbytes(rng.randint(1, 300_000)) for _ in range(20)]
    results = await asyncio.wait_for(
        asyncio.gather(*(echo_bulk(port, p, rng.randint(1, 70_000)) for p in payloads),
                       echo_lines(port, [b"hello\n", b"\n", b"x" * 10_000 + b"\n", b"bye\n"])),
        TIMEOUT)
    locals_ = []
    for (local, received), sent in zip(results[:-1], payloads):
        if received != sent:
            fail(f"client {local}: {len(received)} bytes came back for {len(sent)} sent, or they differ")
        locals_.append(local)
    return locals_


async def idle_client(port):
    """A client that stays connected, to be there when the server shuts down."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    return reader, writer


def check_echo_client(server_program, port):
    client = os.path.join(os.path.dirname(server_program), "echo_client")
    if not os.path.exists(client):
        print("echo_client not built: skipping that part")
        return
    result = subprocess.run([client, "--port", str(port), "--clients", "5", "--message", "hello from corio"],
                            capture_output=True, text=True, timeout=TIMEOUT)
    if result.returncode != 0:
        fail(f"echo_client exited with {result.returncode}\n{result.stdout}{result.stderr}")
    received = [l for l in result.stdout.splitlines() if l.endswith("received 'hello from corio'")]
    if len(received) != 5:
        fail(f"echo_client output:\n{result.stdout}")


def check_options(program):
    for args in (["--backlog", "abc"], ["--backlog", "12x"], ["--backlog", "0"], ["--backlog", "-5"],
                 ["--backlog", ""], ["--port", "80a"], ["--port", "70000"], ["--backlog"]):
        result = subprocess.run([program, "--port", "0", *args], capture_output=True, text=True, timeout=TIMEOUT)
        if result.returncode != 2 or not result.stderr.strip():
            fail(f"{args}: exit {result.returncode}, stderr {result.stderr!r}; expected 2 and a message")
    server = Server(program, "--backlog", "7", "--quiet")
    ss = shutil.which("ss")
    if ss:
        # For a listening socket, ss shows the backlog as Send-Q.
        out = subprocess.run([ss, "-ltnH", f"sport = :{server.port}"], capture_output=True, text=True).stdout
        fields = out.split()
        if len(fields) < 3 or fields[2] != "7":
            fail(f"--backlog 7: ss shows {out!r}")
    else:
        print("ss not installed: the backlog itself is not checked")
    asyncio.run(echo_lines(server.port, [b"queued\n"]))
    code, _ = server.stop(signal.SIGTERM)
    if code != 0:
        fail(f"--backlog 7: exit status {code} after SIGTERM")


def check_debug_dump(program):
    """--debug: SIGQUIT prints the tree of tasks, with a connected client's handler waiting
    in its read, and the server keeps serving."""
    server = Server(program, "--debug", "--quiet")

    async def dump_with_client_connected():
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"ping")
        await writer.drain()
        if await asyncio.wait_for(reader.readexactly(4), TIMEOUT) != b"ping":
            fail("--debug: no echo")
        server.proc.send_signal(signal.SIGQUIT)
        await asyncio.get_running_loop().run_in_executor(None, server.wait_for_line, '"SIGQUIT dump"')
        writer.write(b"pong")
        await writer.drain()
        if await asyncio.wait_for(reader.readexactly(4), TIMEOUT) != b"pong":
            fail("--debug: no echo after the dump")
        writer.close()

    asyncio.run(dump_with_client_connected())
    code, err = server.stop(signal.SIGTERM)
    if code != 0:
        fail(f"--debug: exit status {code} after SIGTERM\n{err}")
    tree = server.lines[server.lines.index("Tasks:") + 1:]
    expected = [
        '"main" serve (suspended at echo_server.cpp:',  # in the race of:
        '├─ serve_forever (suspended at server.hpp:',
        '└─ wait (suspended at signal.hpp:',            # SIGTERM
        '"accept loop" accept_loop (suspended at server.hpp:',
        '"SIGQUIT dump" dump_on_sigquit (running)',
        '"connection handler" handle_client (suspended at echo_server.cpp:',
    ]
    for start in expected:
        if not any(line.lstrip("├└─│ ").startswith(start.lstrip("├└─│ ")) for line in tree):
            fail(f"--debug: no line starting with {start!r} in the dump:\n" + "\n".join(tree))


def main():
    if len(sys.argv) != 2:
        fail("usage: test_echo_server.py <path to echo_server>")
    program = sys.argv[1]
    check_options(program)

    # Python clients, then the C++ one, then Ctrl-C with a client still connected.
    server = Server(program)
    for local in asyncio.run(talk(server.port)):
        server.wait_for_line(f"client {local} connected")
        server.wait_for_line(f"client {local} disconnected")
    check_echo_client(program, server.port)

    async def interrupt_with_client_connected():
        reader, writer = await idle_client(server.port)
        local = "%s:%d" % writer.get_extra_info("sockname")[:2]
        await asyncio.get_running_loop().run_in_executor(None, server.wait_for_line, f"client {local} connected")
        code, _ = await asyncio.get_running_loop().run_in_executor(None, server.stop, signal.SIGINT)
        if await asyncio.wait_for(reader.read(), TIMEOUT) != b"":
            fail("the connected client did not see EOF")
        writer.close()
        return local, code

    local, code = asyncio.run(interrupt_with_client_connected())
    if code != -signal.SIGINT:
        fail(f"after SIGINT the exit status is {code}, expected killed by SIGINT")
    server.wait_for_line(f"client {local} disconnected")
    if server.lines[-1] != "Interrupted: server closed":
        fail(f"last lines after SIGINT: {server.lines[-3:]}")

    # --quiet prints only the address; SIGTERM ends it with status 0.
    quiet = Server(program, "--quiet")
    asyncio.run(talk(quiet.port))
    code, _ = quiet.stop(signal.SIGTERM)
    if code != 0:
        fail(f"after SIGTERM the exit status is {code}, expected 0")
    if quiet.lines[1:] != ["Terminated: server closed"]:
        fail(f"--quiet printed {quiet.lines}")
    check_debug_dump(program)
    print("test_echo_server: OK")


if __name__ == "__main__":
    main()
