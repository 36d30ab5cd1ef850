"""The channels file: where each notification channel's webhooks go (deployment config, never policy).

Format::

    {"channels": {"support-leads": {"url": "https://hooks.example/support", "secret": "..."}}}

``url`` is http or https; ``secret`` signs each webhook body (HMAC-SHA256). :func:`check_channels_file`
returns every problem with its JSON pointer; :func:`load_channels` raises PolicyError with them.
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


@dataclass(frozen=True)
class Channel:
    name: str
    url: str
    secret: str = field(repr=False)


def check_channels_file(path: Path) -> LoadResult[dict[str, Channel]]:
    """Read and check a channels file; the channels by name when it has no error."""
    name = str(path)
    doc, problems = read_json_file(path, name)
    if problems:
        return LoadResult(name, None, tuple(problems))
    found = _check(doc, name)
    if found:
        return LoadResult(name, None, tuple(found))
    channels = {key: Channel(key, spec["url"], spec["secret"]) for key, spec in doc["channels"].items()}
    return LoadResult(name, channels, ())


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
    found = [
        Diagnostic(file, f"{where}/{pointer(k)[1:]}", f"unknown field {k!r} (allowed: secret, url)")
        for k in spec
        if k not in ("url", "secret")
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


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)
