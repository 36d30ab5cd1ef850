"""Webhook bodies and their HMAC-SHA256 signature (the scheme Stripe and Svix use).

The receiver recomputes ``hex(hmac_sha256(secret, f"{t}.{body}"))`` over the raw body bytes and the
timestamp ``t`` from the header, compares it in constant time, and refuses a timestamp older than its
tolerance (a replayed request). ``notification_id`` in the body lets it drop a resent notification.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

SIGNATURE_HEADER = "X-Lifeline-Signature"
TIMESTAMP_HEADER = "X-Lifeline-Timestamp"
#: A receiver should refuse signatures older (or newer) than this many seconds.
DEFAULT_TOLERANCE_SECONDS = 300


class InvalidSignature(ValueError):
    """The signature header is missing, malformed, stale, or does not match the body."""


def encode_body(body: Mapping[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact JSON with sorted keys, UTF-8."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>.<body>"`` with ``secret``."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers of one signed delivery: ``X-Lifeline-Signature: t=<ts>,v1=<hex>`` and the timestamp."""
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: f"t={timestamp},v1={signature(secret, body, timestamp)}",
        TIMESTAMP_HEADER: str(timestamp),
    }


def parse_signature_header(header: str) -> tuple[int, list[str]]:
    """``t=<ts>,v1=<hex>[,v1=<hex>...]`` -> (ts, [hex...]); several v1 values allow secret rotation."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise InvalidSignature(f"malformed {SIGNATURE_HEADER} element {part!r}: expected key=value")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise InvalidSignature(f"{SIGNATURE_HEADER} timestamp {value!r} is not an integer") from None
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise InvalidSignature(f"{SIGNATURE_HEADER} needs t=<unix seconds> and v1=<hex signature>")
    return timestamp, signatures


def verify(
    secret: str, header: str | None, body: bytes, now: float, tolerance: int = DEFAULT_TOLERANCE_SECONDS
) -> int:
    """Check a received body against its signature header; returns the signed timestamp.

    Raises ``InvalidSignature`` saying what is wrong. ``now`` is the receiver's unix time.
    """
    if not header:
        raise InvalidSignature(f"missing {SIGNATURE_HEADER} header")
    timestamp, candidates = parse_signature_header(header)
    if abs(now - timestamp) > tolerance:
        raise InvalidSignature(f"timestamp {timestamp} is outside the {tolerance} s tolerance")
    expected = signature(secret, body, timestamp)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise InvalidSignature("signature does not match the body")
    return timestamp
