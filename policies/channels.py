"""The channels file: where each notification channel goes (deployment config, never policy).

Format::

    {"channels": {"support-leads": {"url": "https://hooks.example/support", "secret": "..."},
                  "security-oncall": {"kind": "email", "to": "oncall@example.com"},
                  "creator": {"kind": "email", "to": "creator"}}}

A channel's ``kind`` is ``webhook`` (the default: ``url`` is http or https; ``secret`` signs each
webhook body, HMAC-SHA256) or ``email`` (sent over SMTP at LIFELINE_SMTP_URL; ``to`` is one or more
addresses separated by commas, or ``creator``: the case's ``attributes.creator.contact_email``).
:func:`check_channels_file` returns every problem with its JSON pointer; :func:`load_channels` raises
PolicyError with them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from policies.diagnostics import Diagnostic, LoadResult, PolicyError, pointer
from policies.documents import read_json_file
from policies.schema_messages import json_type

_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")


#: The kinds of channel; deliveries dispatch on it (flows/senders.py).
CHANNEL_KINDS = ("webhook", "email")
#: An email channel's ``to`` that means the case's creator.
TO_CREATOR = "creator"
_ADDRESS = re.compile(r"[^@\s,]+@[^@\s,]+")


@dataclass(frozen=True)
class Channel:
    name: str
    url: str
    secret: str = field(repr=False)
    kind: str = "webhook"
    #: An email channel's recipients (``creator`` or addresses separated by commas).
    to: str | None = None


def check_channels_file(path: Path) -> LoadResult[dict[str, Channel]]:
    """Read and check a channels file; the channels by name when it has no error."""
    name = str(path)
    doc, problems = read_json_file(path, name)
    if problems:
        return LoadResult(name, None, tuple(problems))
    found = _check(doc, name)
    if found:
        return LoadResult(name, None, tuple(found))
    channels = {key: _channel(key, spec) for key, spec in doc["channels"].items()}
    return LoadResult(name, channels, ())


def _channel(key: str, spec: Mapping[str, Any]) -> Channel:
    if spec.get("kind") == "email":
        return Channel(key, "", "", "email", spec["to"])
    return Channel(key, spec["url"], spec["secret"])


def load_channels(path: Path) -> dict[str, Channel]:
    """The channels of ``path`` by name; PolicyError listing every problem when the file is bad."""
    result = check_channels_file(path)
    if result.value is None:
        raise PolicyError(result.diagnostics)
    return result.value


def _check(doc: Any, file: str) -> list[Diagnostic]:
    if not isinstance(doc, dict):
        return [Diagnostic(file, "", f"expected an object with a 'channels' field, got {json_type(doc)}")]
    found = [
        Diagnostic(file, pointer(k), f"unknown field {k!r} (allowed: channels)")
        for k in doc
        if k != "channels"
    ]
    channels = doc.get("channels")
    if not isinstance(channels, dict):
        what = (
            "missing required field 'channels'"
            if channels is None
            else f"expected an object, got {json_type(channels)}"
        )
        return [*found, Diagnostic(file, "/channels" if channels is not None else "", what)]
    for key, spec in channels.items():
        found += _check_channel(key, spec, file)
    return found


def _check_channel(key: str, spec: Any, file: str) -> list[Diagnostic]:
    where = pointer("channels", key)
    if _NAME.fullmatch(key) is None:
        return [
            Diagnostic(
                file, where, f"{key!r} is not a channel name (lower-case letters, digits, '-', '_', '.')"
            )
        ]
    if not isinstance(spec, Mapping):
        return [Diagnostic(file, where, f"expected an object with url and secret, got {json_type(spec)}")]
    kind = spec.get("kind", "webhook")
    if kind not in CHANNEL_KINDS:
        return [
            Diagnostic(file, f"{where}/kind", f"unknown kind {kind!r} (known: {', '.join(CHANNEL_KINDS)})")
        ]
    if kind == "email":
        return _check_email(spec, where, file)
    found = [
        Diagnostic(file, f"{where}/{pointer(k)[1:]}", f"unknown field {k!r} (allowed: kind, secret, url)")
        for k in spec
        if k not in ("url", "secret", "kind")
    ]
    for field_name in ("url", "secret"):
        value = spec.get(field_name)
        if value is None:
            found.append(Diagnostic(file, where, f"missing required field {field_name!r}"))
        elif not isinstance(value, str) or not value:
            found.append(Diagnostic(file, f"{where}/{field_name}", "expected a non-empty string"))
    url = spec.get("url")
    if isinstance(url, str) and url and not _is_http_url(url):
        found.append(Diagnostic(file, f"{where}/url", f"{url!r} is not an http or https URL"))
    return found


def _check_email(spec: Mapping[str, Any], where: str, file: str) -> list[Diagnostic]:
    found = [
        Diagnostic(file, f"{where}/{pointer(k)[1:]}", f"unknown field {k!r} (allowed: kind, to)")
        for k in spec
        if k not in ("kind", "to")
    ]
    to = spec.get("to")
    if to is None:
        found.append(Diagnostic(file, where, "missing required field 'to'"))
    elif not isinstance(to, str) or not (to == TO_CREATOR or _addresses_ok(to)):
        found.append(
            Diagnostic(
                file,
                f"{where}/to",
                f"expected {TO_CREATOR!r} or email addresses separated by commas, got {to!r}",
            )
        )
    return found


def _addresses_ok(to: str) -> bool:
    parts = [p.strip() for p in to.split(",")]
    return all(_ADDRESS.fullmatch(p) for p in parts)


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)
