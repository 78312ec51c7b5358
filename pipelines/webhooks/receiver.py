"""The HTTP endpoint Instantly's webhooks POST to: check the secret header, spool the event, answer 200.

A 200 means the event is on disk (`Spool.append` returned). Everything else is refused before anything is
stored: no or a wrong secret (401, compared in constant time), another method (405), no length or a body
over the limit (411, 413; not read), a body that is not a JSON object (400). While shutting down: 503, so
Instantly retries later. Nothing is logged per request, and the secret never is.
"""

import hmac
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from sources.instantly import settings

from .spool import Spool, SpoolClosed


class Receiver(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(
        self,
        address: tuple[str, int],
        secret: str,
        spool: Spool,
        max_body_bytes: int,
        batch_events: int,
        wake: threading.Event,
    ) -> None:
        self.secret = secret.encode()
        self.spool = spool
        self.max_body_bytes = max_body_bytes
        self.accepting = True
        self.batch_events = batch_events
        self.wake = wake  # set once `batch_events` wait in the spool: load now
        super().__init__(address, Handler)

    def stop_accepting(self) -> None:
        self.accepting = False
        self.shutdown()
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "instantly-sync"
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body are two writes: Nagle held the body for a delayed ACK
    timeout = 30  # seconds a connection may sit on a request it does not finish sending
    server: Receiver

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - no per-request log lines
        return

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        server = self.server
        if not server.accepting:
            return self._answer(503, "shutting down; retry")
        given = self.headers.get(settings.WEBHOOK_SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, server.secret):
            return self._answer(401, f"missing or wrong {settings.WEBHOOK_SECRET_HEADER} header")
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            return self._answer(411, "Content-Length required")
        if int(length) > server.max_body_bytes:
            return self._answer(413, f"body over {server.max_body_bytes} bytes")
        try:
            payload = orjson.loads(self.rfile.read(int(length)))
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            return self._answer(400, "the body is not a JSON object")
        try:
            server.spool.append({"received_at": datetime.now(UTC).isoformat(), "payload": payload})
        except SpoolClosed:
            return self._answer(503, "not stored; retry")
        if server.spool.since_seal >= server.batch_events:
            server.wake.set()
        self._answer(200, "stored", keep_alive=True)

    def _refuse(self) -> None:
        self._answer(405, "only POST")

    do_GET = do_PUT = do_PATCH = do_DELETE = do_HEAD = _refuse  # noqa: N815

    def _answer(self, status: int, message: str, keep_alive: bool = False) -> None:
        """Answer; a refused request's body is never read, so its connection closes."""
        body = orjson.dumps({"status": status, "message": message})
        self.close_connection = not keep_alive or self.close_connection
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
