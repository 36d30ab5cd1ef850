"""A real webhook receiver for tests: an HTTP server on 127.0.0.1 in a thread that verifies each
delivery's signature, de-duplicates by notification id, and can be told to fail the next requests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from flows.signing import SIGNATURE_HEADER, InvalidSignature, parse_signature_header, verify


@dataclass
class Received:
    path: str
    body: dict[str, Any]
    signature_ok: bool
    error: str | None
    #: The timestamp the sender signed (None when the header is missing or unreadable).
    signed_at: int | None = None


@dataclass
class ReceiverState:
    secret: str
    received: list[Received] = field(default_factory=list)
    #: How many of the next requests to answer with 503 (a receiver that is down).
    fail_next: int = 0
    #: Seconds to wait before answering (to make the sender time out).
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted_ids(self) -> list[int]:
        with self.lock:
            return [r.body["notification_id"] for r in self.received if r.signature_ok and r.error is None]


def _handler(state: ReceiverState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            error: str | None = None
            try:
                verify(state.secret, self.headers.get(SIGNATURE_HEADER), raw, now=time.time())
                ok = True
            except InvalidSignature as exc:
                ok, error = False, str(exc)
            signed_at = _signed_at(self.headers.get(SIGNATURE_HEADER))
            with state.lock:
                failing = state.fail_next > 0
                if failing:
                    state.fail_next -= 1
                    error = "receiver told to fail"
                state.received.append(Received(self.path, json.loads(raw), ok, error, signed_at))
            if state.delay:
                time.sleep(state.delay)
            self.send_response(401 if not ok else 503 if failing else 200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _signed_at(header: str | None) -> int | None:
    try:
        return parse_signature_header(header)[0] if header else None
    except InvalidSignature:
        return None


@contextmanager
def webhook_receiver(secret: str) -> Iterator[tuple[str, ReceiverState]]:
    """Yields (base URL, state) of a running receiver; stops it on exit."""
    state = ReceiverState(secret)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
