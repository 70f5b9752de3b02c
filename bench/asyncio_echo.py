#!/usr/bin/env python3
"""Python asyncio echo server, the comfort baseline: usage: asyncio_echo.py PORT [HOST]"""
import asyncio
import resource
import sys


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass  # a client that resets is not the server's fault
    finally:
        writer.close()


async def main(host: str, port: int) -> None:
    # asyncio sets TCP_NODELAY on every TCP socket itself.
    server = await asyncio.start_server(handle, host, port, backlog=4096)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        asyncio.run(main(sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1", int(sys.argv[1])))
    except KeyboardInterrupt:
        pass
