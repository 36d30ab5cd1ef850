"""`lifeline serve --demo`'s webhook receiver: somewhere for the bundled policies' notifications to go.

Without a channels file every notification of the demo is a dead letter at once (no webhook to send
it to): a newcomer watched breaches and escalations happen, and the log showed only dead letters.
So ``serve --demo``, when LIFELINE_CHANNELS_FILE is not set, writes a channels file
(``lifeline-demo-channels.json`` beside the SQLite file, else in the working folder) sending every
channel the registered policies notify to this receiver, mounted on the same server at
``POST /demo/hooks/{channel}``. The worker delivers there as it would to a real receiver (signed,
retried, recorded); the receiver checks each signature as a real one must (flows.signing), logs a
line per notification and lists the last ones at ``GET /demo/hooks`` (any API key).

A channels file of one's own (LIFELINE_CHANNELS_FILE) replaces all of this: nothing is written then.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import make_url

from api.deps import Reader
from api.problems import http_problem
from flows.signing import SIGNATURE_HEADER, InvalidSignature, verify

log = logging.getLogger("lifeline.demo")

CHANNELS_FILE_NAME = "lifeline-demo-channels.json"
HOOKS_PATH = "/demo/hooks"
#: How many received notifications ``GET /demo/hooks`` lists (the newest).
KEPT = 200


class UnknownDemoChannel(LookupError):
    """A delivery to a channel the demo's channels file does not name."""


@dataclass(frozen=True)
class Received:
    """One notification the receiver accepted: its channel, when, and the body as sent."""

    channel: str
    received_at: str
    body: dict[str, Any]


class DemoReceiver:
    """The channels' secrets and the last notifications received (thread-safe: the server's event
    loop writes, any request reads)."""

    def __init__(self, channel_secrets: Mapping[str, str], clock: Callable[[], float] = time.time) -> None:
        self.secrets = dict(channel_secrets)
        self._clock = clock
        self._received: deque[Received] = deque(maxlen=KEPT)
        self._lock = threading.Lock()

    def receive(self, channel: str, signature_header: str | None, body: bytes) -> Received:
        """Accept one delivery. UnknownDemoChannel, InvalidSignature (saying what is wrong), or
        ValueError for a body that is not a JSON object: nothing is kept then."""
        secret = self.secrets.get(channel)
        if secret is None:
            raise UnknownDemoChannel(channel)
        now = self._clock()  # one instant: the one the signature is checked at is the one recorded
        verify(secret, signature_header, body, now)
        document = json.loads(body)
        if not isinstance(document, dict):
            raise ValueError("the body is not a JSON object")
        at = datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z")
        received = Received(channel, at, document)
        with self._lock:
            self._received.append(received)
        log.info("demo webhook %s", describe(received))
        return received

    def received(self) -> list[Received]:
        """The notifications received, newest first."""
        with self._lock:
            return list(reversed(self._received))


def describe(received: Received) -> str:
    """One log line: which channel heard of which case, and why."""
    body = received.body
    stands = body.get("case")
    case: dict[str, Any] = stands if isinstance(stands, dict) else {}
    return (
        f"{received.channel} <- case {body.get('case_id')} ({body.get('incident_type')}, "
        f"{case.get('priority')}, stage {case.get('stage')}): {body.get('reason') or 'notified'}"
    )


def channels_document(base_url: str, channel_secrets: Mapping[str, str]) -> dict[str, Any]:
    """A channels file (policies.channels' format) sending each channel to the receiver."""
    return {
        "channels": {
            name: {"url": f"{base_url}{HOOKS_PATH}/{name}", "secret": secret}
            for name, secret in sorted(channel_secrets.items())
        }
    }


def channels_file_beside(database_url: str) -> Path:
    """Where the demo's channels file goes: the SQLite file's folder, else the working folder."""
    url = make_url(database_url)
    folder = Path(url.database).parent if url.get_backend_name() == "sqlite" and url.database else Path()
    return (folder / CHANNELS_FILE_NAME).resolve()


def write_channels_file(path: Path, base_url: str, channels: Sequence[str]) -> DemoReceiver:
    """Write the demo's channels file for ``channels`` (fresh secrets each start) and return the
    receiver that knows those secrets."""
    receiver = DemoReceiver({name: secrets.token_urlsafe(24) for name in channels})
    document = channels_document(base_url, receiver.secrets)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return receiver


def router(receiver: DemoReceiver) -> APIRouter:
    """``POST /demo/hooks/{channel}`` (204; 404 for a channel the file does not name; 401 for a
    bad signature; 400 for a body that is not a JSON object) and ``GET /demo/hooks``."""
    routes = APIRouter(prefix=HOOKS_PATH, include_in_schema=False)

    @routes.post("/{channel}", status_code=204)
    async def receive(channel: str, request: Request) -> Response:
        try:
            receiver.receive(channel, request.headers.get(SIGNATURE_HEADER), await request.body())
        except UnknownDemoChannel:
            raise http_problem(404, f"the demo's channels file has no channel {channel!r}") from None
        except InvalidSignature as exc:
            raise http_problem(401, str(exc)) from None
        except ValueError as exc:
            raise http_problem(400, f"the body is not a JSON object: {exc}") from None
        return Response(status_code=204)

    @routes.get("")
    async def received(_reader: Reader) -> list[dict[str, Any]]:
        return [asdict(item) for item in receiver.received()]

    return routes
