"""Shared by the hostile scenarios (tests/hostile/test_*.py) and bench/soak: the
echo_server example in a child process, what /proc says about it (descriptors, resident
memory), and the chaos client mix."""
import asyncio
import os
import queue
import random
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

TIMEOUT = 30  # seconds any single step may take before the scenario fails


def fail(name, message):
    print(f"{name}: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def raise_nofile(want):
    """Raises this process's soft RLIMIT_NOFILE to `want` (children inherit it); returns
    the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        soft = min(want, hard) if hard != resource.RLIM_INFINITY else want
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def sanitizer_env():
    """The environment for the server. ASan keeps freed memory in a quarantine (256 MiB by
    default) before reusing it, which would make resident memory track bytes churned
    rather than bytes held; a small quarantine keeps the RSS figures about live memory."""
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = ":".join(x for x in (env.get("ASAN_OPTIONS", ""), "quarantine_size_mb=16") if x)
    return env


class Server:
    """echo_server --quiet on a free loopback port; stderr is collected by a thread."""

    def __init__(self, name, program, *args, nofile=None):
        self.name = name
        preexec = None
        if nofile is not None:
            def preexec():
                hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))
        self.proc = subprocess.Popen([program, "--host", "127.0.0.1", "--port", "0", "--quiet", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=sanitizer_env(), preexec_fn=preexec)
        self.pid = self.proc.pid
        self.err = []
        threading.Thread(target=lambda: self.err.extend(self.proc.stderr), daemon=True).start()
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in self.proc.stdout], daemon=True).start()
        try:
            first = lines.get(timeout=TIMEOUT)
        except queue.Empty:
            self.proc.kill()
            fail(name, "echo_server printed nothing in time")
        if not first.startswith("Serving on 127.0.0.1:"):
            fail(name, f"first line {first!r}; stderr: {''.join(self.err)}")
        self.port = int(first.rsplit(":", 1)[1])

    def alive(self):
        return self.proc.poll() is None

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def rss_kib(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def wait_fds(self, target, slack, seconds=TIMEOUT):
        """Waits until at most target + slack descriptors are open; returns the count."""
        deadline = time.monotonic() + seconds
        while True:
            n = self.fd_count()
            if n <= target + slack or time.monotonic() > deadline:
                return n
            time.sleep(0.05)

    def stop(self):
        """SIGTERM: the server must exit 0 with no sanitizer report."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail(self.name, "echo_server did not exit on SIGTERM")
        time.sleep(0.1)  # the collector thread reads the last of stderr
        err = "".join(self.err)
        if "Sanitizer" in err or "runtime error" in err:
            fail(self.name, f"sanitizer report:\n{err}")
        if code != 0:
            fail(self.name, f"exit status {code} after SIGTERM; stderr:\n{err}")


def echo_once(name, port, payload=b"still served\n"):
    """A fresh client sends a line and must get it back."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        s.sendall(payload)
        got = b""
        while len(got) < len(payload):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    if got != payload:
        fail(name, f"a new client got {got!r} back for {payload!r}")


# ---------------------------------------------------------------- chaos

class Totals:
    def __init__(self):
        self.connections = 0
        self.bytes_sent = 0       # on connections whose echo is checked in full
        self.bytes_verified = 0   # of those, echoed back identical
        self.reset_bytes = 0      # sent on connections reset before reading the echo
        self.mismatches = 0
        self.failures = []        # what went wrong, for the report
        self.kinds = {}

    def count(self, kind):
        self.connections += 1
        self.kinds[kind] = self.kinds.get(kind, 0) + 1


class Chaos:
    """Clients picked at random against an echo server; every byte echoed is compared with
    what was sent."""

    KINDS = ("echo", "half_close", "reset", "trickle", "burst")

    def __init__(self, port, seed):
        self.port = port
        self.rng = random.Random(seed)
        self.block = self.rng.randbytes(4 << 20)
        self.totals = Totals()

    def payload(self, n):
        start = self.rng.randrange(len(self.block) - n)
        return self.block[start:start + n]

    async def _connect(self):
        return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), TIMEOUT)

    def _check(self, kind, sent, got):
        t = self.totals
        t.bytes_sent += len(sent)
        if got == sent:
            t.bytes_verified += len(got)
        else:
            t.mismatches += 1
            t.failures.append(f"{kind}: {len(got)} bytes back for {len(sent)} sent, or they differ")

    async def _send_all(self, writer, data, chunks):
        for i in range(0, len(data), chunks):
            writer.write(data[i:i + chunks])
            await writer.drain()

    async def echo(self):
        """Writes in random chunks while reading the echo back, then closes."""
        data = self.payload(self.rng.randint(1, 256 * 1024))
        reader, writer = await self._connect()
        sender = asyncio.create_task(self._send_all(writer, data, self.rng.randint(1, 64 * 1024)))
        got = await asyncio.wait_for(reader.readexactly(len(data)), TIMEOUT)
        await sender
        writer.close()
        await writer.wait_closed()
        self._check("echo", data, got)

    async def half_close(self):
        """Sends everything, shuts down its sending side, reads until the server's EOF."""
        data = self.payload(self.rng.randint(0, 512 * 1024))
        reader, writer = await self._connect()
        sender = asyncio.create_task(self._send_all(writer, data, self.rng.randint(1, 64 * 1024)))
        await sender
        writer.write_eof()
        got = await asyncio.wait_for(reader.read(), TIMEOUT)
        writer.close()
        await writer.wait_closed()
        self._check("half_close", data, got)

    async def reset(self):
        """Sends, reads part of the echo (checked), then resets the connection (RST)."""
        data = self.payload(self.rng.randint(1, 128 * 1024))
        reader, writer = await self._connect()
        writer.write(data)
        part = self.rng.randint(0, len(data))
        got = await asyncio.wait_for(reader.readexactly(part), TIMEOUT)
        self._check("reset", data[:part], got)
        self.totals.reset_bytes += len(data) - part
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async def trickle(self):
        """One byte at a time, each echoed before the next is sent."""
        data = self.payload(self.rng.randint(1, 64))
        reader, writer = await self._connect()
        got = b""
        for i in range(len(data)):
            writer.write(data[i:i + 1])
            await writer.drain()
            got += await asyncio.wait_for(reader.readexactly(1), TIMEOUT)
        writer.close()
        await writer.wait_closed()
        self._check("trickle", data, got)

    async def burst(self):
        """1 MiB written at once, read back concurrently."""
        data = self.payload(1 << 20)
        reader, writer = await self._connect()
        writer.write(data)
        drained = asyncio.create_task(writer.drain())
        got = await asyncio.wait_for(reader.readexactly(len(data)), TIMEOUT)
        await drained
        writer.close()
        await writer.wait_closed()
        self._check("burst", data, got)

    async def _worker(self, deadline):
        while time.monotonic() < deadline:
            kind = self.rng.choice(self.KINDS)
            self.totals.count(kind)
            try:
                await getattr(self, kind)()
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
                self.totals.mismatches += 1
                self.totals.failures.append(f"{kind}: {type(e).__name__}: {e}")

    async def run(self, seconds, workers):
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(self._worker(deadline) for _ in range(workers)))
        return self.totals
