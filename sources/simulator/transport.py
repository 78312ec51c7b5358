"""HTTP/1.1 on a socket: read a request, hand it to the application, write its response.

``ThreadingHTTPServer`` with a lean request parser (the stdlib's header parsing costs more than
answering a small page does), keep-alive, one write per response with ``Content-Length``, and the wire
tricks faults need: no answer at all (``drop``), or half a body and a closed connection (``truncate``).
"""

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .clock import http_date
from .errors import reason

JSON = "application/json; charset=utf-8"


NEVER_RELEASED = threading.Event()
"""What an answer without a fault waits on: never set, so a delay runs its course."""


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)
    action: str | None = None
    """``drop`` (close without answering) or ``truncate`` (half the body, then close)."""
    delay: float = 0.0
    released: threading.Event = NEVER_RELEASED
    """Set when a delayed answer may go before its ``delay`` is up (a slow fault's own event)."""
    clock: Callable[[], datetime] | None = None
    """The clock for the ``Date`` header (the world's)."""
    fault: str | None = None


Application = Callable[[str, str, dict[str, str], bytes], Response]
"""``(method, target, lower-case headers, raw body) -> Response``."""


class HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: Application) -> None:
        self.app = app
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def close_connections(self) -> None:
        """Cut keep-alive connections still open, so no handler thread serves after ``stop()``."""
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "instantly-simulator"
    sys_version = ""
    disable_nagle_algorithm = True
    server: HttpServer

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence the default log
        return

    def handle_one_request(self) -> None:
        """Read one request and answer it. A lean HTTP/1.1 parser: the stdlib's header parsing
        (``email.parser``) costs more than answering a small page does."""
        try:
            line = self.rfile.readline(65537)
            if not line:
                self.close_connection = True
                return
            parts = line.decode("latin-1").split()
            if not parts:
                return  # a stray CRLF between requests
            if len(parts) != 3 or len(line) > 65536:
                self.close_connection = True
                return
            self.command, self.path, self.request_version = parts
            headers: dict[str, str] = {}
            while True:
                header = self.rfile.readline(65537)
                if header in (b"\r\n", b"\n", b""):
                    break
                name, _, value = header.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            self.request_headers = headers
            connection = headers.get("connection", "").lower()
            self.close_connection = connection == "close" or (
                self.request_version == "HTTP/1.0" and connection != "keep-alive"
            )
            self._serve(self.command.upper())
        except (TimeoutError, ConnectionError):
            self.close_connection = True

    def _read_body(self) -> bytes:
        headers = self.request_headers
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self, method: str) -> None:
        response = self.server.app(method, self.path, self.request_headers, self._read_body())
        if response.delay:
            response.released.wait(response.delay)
        if response.action == "drop":
            self.close_connection = True
        else:
            self._write(response)

    def _write(self, response: Response) -> None:
        body = response.body
        moment = response.clock() if response.clock else datetime.now().astimezone()
        lines = [
            f"HTTP/1.1 {response.status} {reason(response.status)}",
            f"Date: {http_date(moment)}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(body)}",
        ]
        lines.extend(f"{name}: {value}" for name, value in response.headers.items())
        if response.action == "truncate":
            self.close_connection = True
            body = body[: len(body) // 2]
        elif self.command == "HEAD":
            body = b""
        if self.close_connection:
            lines.append("Connection: close")
        else:
            lines.append("Connection: keep-alive")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self.wfile.write(head + body)
        except OSError:
            self.close_connection = True
