"""uvicorn's HTTP/1.1 protocol (h11) with its own error answer in problem+json.

uvicorn answers some requests before the app sees them: a malformed request line or header, or a
request line and headers over h11's 16 KiB limit. Stock uvicorn sends ``400 text/plain`` then;
``lifeline serve`` uses this protocol so that answer is the same RFC 9457 problem as every other.
"""

from __future__ import annotations

import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

PROBLEM = {
    "type": "/problems/bad-request",
    "title": "Bad request",
    "status": 400,
    "detail": "the request is not valid HTTP/1.1, or its request line and headers exceed 16 KiB",
}


class ProblemH11Protocol(H11Protocol):
    def send_400_response(self, msg: str) -> None:  # noqa: ARG002 - one problem for every refusal
        body = json.dumps(PROBLEM).encode()
        headers = [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=body),
        ):
            self.transport.write(self.conn.send(event))
        self.transport.write(self.conn.send(h11.EndOfMessage()))
        self.transport.close()
