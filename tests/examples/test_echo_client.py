#!/usr/bin/env python3
"""Checks the echo_client example against servers written with Python's asyncio: a
correct echo server (which also checks that the N clients really are connected at the same
time), one that corrupts the echo and one that hangs up early (exit status 1), and a closed
port (exit status 1, the error naming the address)."""
import asyncio
import socket
import sys

TIMEOUT = 20


def fail(message):
    print(f"test_echo_client: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


async def run_client(program, port, *args):
    proc = await asyncio.create_subprocess_exec(program, "--port", str(port), *args,
                                                stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    return proc.returncode, out.decode(), err.decode()


async def with_server(handler, body):
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        return await body(port)
    finally:
        server.close()
        await server.wait_closed()


async def concurrent_echo(program, clients, message):
    """Holds every echo back until all clients are connected: sequential clients would
    never all be there at once."""
    everyone = asyncio.Event()
    connected = 0

    async def handler(reader, writer):
        nonlocal connected
        connected += 1
        if connected == clients:
            everyone.set()
        data = await reader.readexactly(len(message.encode()))
        try:
            await asyncio.wait_for(everyone.wait(), TIMEOUT / 2)
        except asyncio.TimeoutError:
            writer.write(b"clients were not concurrent")
        else:
            writer.write(data)
        await writer.drain()
        writer.close()

    async def body(port):
        code, out, err = await run_client(program, port, "--clients", str(clients), "--message", message)
        if code != 0:
            fail(f"echo_client exited with {code}\n{out}{err}")
        received = [l for l in out.splitlines() if l.endswith(f"received '{message}'")]
        if len(received) != clients:
            fail(f"expected {clients} echoes of {message!r}:\n{out}")

    await with_server(handler, body)


async def bad_echo(program, handler, what):
    async def body(port):
        code, out, err = await run_client(program, port, "--clients", "3", "--message", "Hello World!")
        if code != 1:
            fail(f"{what}: echo_client exited with {code}, expected 1\n{out}{err}")
        if "3 of 3 echoes differed" not in out:
            fail(f"{what}: output:\n{out}")

    await with_server(handler, body)


async def swapcase(reader, writer):
    data = await reader.readexactly(12)
    writer.write(data.swapcase())
    await writer.drain()
    writer.close()


async def hang_up_early(reader, writer):
    await reader.readexactly(12)
    writer.write(b"Hello")
    await writer.drain()
    writer.close()


async def closed_port(program):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out, err = await run_client(program, port)
    if code != 1 or f"127.0.0.1:{port}" not in err:
        fail(f"closed port: exit status {code}, stderr {err!r}")


async def main(program):
    await concurrent_echo(program, 8, "hello from asyncio's side")
    await concurrent_echo(program, 1, "Hello World!")
    await bad_echo(program, swapcase, "corrupted echo")
    await bad_echo(program, hang_up_early, "short echo")
    await closed_port(program)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        fail("usage: test_echo_client.py <path to echo_client>")
    asyncio.run(main(sys.argv[1]))
    print("test_echo_client: OK")
