#!/usr/bin/env python3
"""An HTTP/1.1 server that misbehaves on purpose, for tests/test_http_hostile.cpp.

Listens on 127.0.0.1 (an ephemeral port unless one is given) and prints the port on
stdout once it accepts connections. Each request path selects one way of breaking
HTTP; query parameters tune it (ms: pause between pieces, n: body bytes). Every endless
response ends when the client hangs up.
"""
import socket
import socketserver
import sys
import time
import urllib.parse

PIECE = b"x" * 65536


class Hangup(Exception):
    """The client closed the connection."""


class Handler(socketserver.BaseRequestHandler):
    def send(self, data):
        try:
            self.request.sendall(data)
        except OSError as e:  # BrokenPipe, ConnectionReset: the client gave up
            raise Hangup() from e

    def drip(self, data, ms):
        for i in range(len(data)):
            self.send(data[i:i + 1])
            time.sleep(ms / 1000)

    def read_request(self):
        head = b""
        while b"\r\n\r\n" not in head:
            got = self.request.recv(4096)
            if not got:
                return None
            head += got
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        url = urllib.parse.urlsplit(line.split(" ")[1])
        query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        return url.path, query

    def until_hangup(self):
        # Reads (and drops) until EOF, so the server notices the client leaving.
        try:
            while self.request.recv(4096):
                pass
        except OSError:
            pass

    def body(self, n, chunked):
        sent = 0
        while sent < n:
            piece = PIECE[:min(len(PIECE), n - sent)]
            if chunked:
                self.send(b"%x\r\n" % len(piece) + piece + b"\r\n")
            else:
                self.send(piece)
            sent += len(piece)
        if chunked:
            self.send(b"0\r\n\r\n")

    def handle(self):
        try:
            while True:
                request = self.read_request()
                if request is None:
                    return
                path, query = request
                ms = int(query.get("ms", "20"))
                n = int(query.get("n", "0"))
                if not self.respond(path, query, ms, n):
                    return
        except Hangup:
            pass
        except OSError:
            pass

    # True keeps the connection for another request.
    def respond(self, path, query, ms, n):
        if path == "/ok":
            self.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            return True
        if path == "/endless-status-line":
            self.send(b"HTTP/1.1 200 ")
            while True:
                self.send(b"O" * 4096)
        if path == "/endless-headers":
            self.send(b"HTTP/1.1 200 OK\r\n")
            i = 0
            while True:
                self.send(b"X-Filler-%d: %s\r\n" % (i, b"f" * 40))
                i += 1
        if path == "/endless-header-value":
            self.send(b"HTTP/1.1 200 OK\r\nX-Long: ")
            while True:
                self.send(b"v" * 4096)
        if path == "/header-drip":  # a byte per `ms`, and the headers never end
            self.drip(b"HTTP/1.1 200 OK\r\n", ms)
            while True:
                self.drip(b"X-Drip: 1\r\n", ms)
        if path == "/drip":  # a whole small response, a byte per `ms`
            body = b"dripped body"
            self.drip(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body, ms)
            return True
        if path == "/stall-headers":  # part of the headers, then nothing
            self.send(b"HTTP/1.1 200 OK\r\nContent-Le")
            self.until_hangup()
            return False
        if path == "/stall-body":
            self.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nten bytes!")
            self.until_hangup()
            return False
        if path == "/never-answer":
            self.until_hangup()
            return False
        if path == "/lying-length":  # promises 100 bytes, sends 10 and hangs up
            self.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nten bytes!")
            return False
        if path == "/conflicting-length":
            self.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\nhello")
            return False
        if path == "/chunk-overflow":
            self.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n" + PIECE)
            self.until_hangup()
            return False
        if path == "/chunk-line-endless":  # a chunk-size line that never ends
            self.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1")
            while True:
                self.send(b"0" * 4096)
        if path == "/endless-trailers":
            self.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n")
            i = 0
            while True:
                self.send(b"X-Trailer-%d: %s\r\n" % (i, b"t" * 40))
                i += 1
        if path == "/interim-flood":
            while True:
                self.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        if path == "/redirect-loop":
            self.send(b"HTTP/1.1 302 Found\r\nLocation: /redirect-loop\r\nContent-Length: 0\r\n\r\n")
            return True
        if path == "/redirect-stall":  # a redirect whose body never comes
            self.send(b"HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 100\r\n\r\n")
            self.until_hangup()
            return False
        if path == "/huge-length":  # declares n bytes and sends them
            self.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n)
            self.body(n, chunked=False)
            return True
        if path == "/huge-chunked":
            self.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            self.body(n, chunked=True)
            return True
        if path == "/huge-close":  # a body delimited by the end of the connection
            self.send(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
            self.body(n, chunked=False)
            return False
        self.send(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        return True


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    address_family = socket.AF_INET


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    with Server(("127.0.0.1", port), Handler) as server:
        print(server.server_address[1], flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
