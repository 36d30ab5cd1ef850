"""Deployment settings, read from the environment (pydantic-settings), shared by the API, the worker
and the command line.

- ``LIFELINE_DATABASE_URL``: default ``sqlite:///./lifeline.sqlite`` (a file in the working directory);
  ``postgresql+psycopg://user@host/db`` for PostgreSQL.
- ``LIFELINE_POLICIES_DIR``: the policies and calendars; default the bundled ``policies/`` directory.
- ``LIFELINE_CHANNELS_FILE``: optional JSON file mapping notification channels to webhooks.
- ``LIFELINE_QUEUES_FILE``: optional JSON file (``{"queues": [...]}``) naming queues beyond those the
  registered policies name, which ``assign`` may move a case to (policies/queues.py).
- ``LIFELINE_MAX_BACKDATE``: how far before now a case may be opened (ISO 8601 duration, default
  ``P30D``).
- ``LIFELINE_PUBLIC_URL``: the base of absolute links the API sends (``Location``, ``next``), never
  taken from a request's ``Host`` (default ``http://127.0.0.1:8000``).
- ``LIFELINE_METRICS_TOKEN``: when set, ``/metrics`` needs ``Authorization: Bearer <token>``.
- ``LIFELINE_CONSOLE_SECRET``: the key that signs console session cookies; set the same value on every
  API process behind one address. Unset: a random key per process (sessions end when it restarts).
- Creator channel (docs/creator-channel.md): ``LIFELINE_PUBLIC_URL`` is also the base of status
  links; ``LIFELINE_LINK_SECRET`` (derives status links; default a random
  secret kept in the database), ``LIFELINE_SMTP_URL`` / ``LIFELINE_SMTP_FROM`` (email),
  ``LIFELINE_INTAKE`` (``on`` opens /help).
- ``LIFELINE_SWEEP_PROCESSES``: how many lane processes ``lifeline worker`` sweeps a SQLite file with
  (default 2; 0 or 1: in the worker's own process; flows/sweep_lanes.py).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

import policies
from casework.errors import SettingsInvalid

BUNDLED_POLICIES_DIR = Path(policies.__file__).resolve().parent
DEFAULT_DATABASE_URL = "sqlite:///./lifeline.sqlite"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIFELINE_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    policies_dir: Path = BUNDLED_POLICIES_DIR
    channels_file: Path | None = None
    queues_file: Path | None = None
    max_backdate: timedelta = timedelta(days=30)
    public_url: str = "http://127.0.0.1:8000"
    metrics_token: str | None = None
    #: The Ed25519 key that signs chain digests (`lifeline keys signing-init`); none: no digests.
    signing_key_file: Path | None = None
    console_secret: str | None = None
    link_secret: str | None = None
    smtp_url: str | None = None
    smtp_from: str = "Lifeline <lifeline@localhost>"
    intake: str = "off"
    sweep_processes: int = Field(default=2, ge=0, le=16)

    @property
    def calendars_dir(self) -> Path:
        return self.policies_dir / "calendars"


_ENV_PREFIX = "LIFELINE_"
_parsed: dict[tuple[Any, ...], Settings] = {}
_lock = threading.Lock()


def _variables() -> tuple[str, ...]:
    return tuple(_ENV_PREFIX + name.upper() for name in Settings.model_fields)


_VARIABLES = _variables()
# The environment as the process holds it: ``os.environ``'s own dict of encoded names and values
# (kept in step by ``os.environ[...] = ...``, ``del`` and ``monkeypatch.setenv``), read directly
# because ``os.environ.get`` encodes the name and decodes the value on every call: the thirteen
# look-ups cost ~20 us, paid several times per API request (bench/README.md). ``os.environ``
# itself where that dict is not there.
_ENVIRON: Mapping[Any, Any] = getattr(os.environ, "_data", os.environ)
_encode: Callable[[str], Any] = getattr(os.environ, "encodekey", str) if _ENVIRON is not os.environ else str
_KEYS = tuple(_encode(name) for name in _VARIABLES)


def _parse() -> Settings:
    """The settings; ``SettingsInvalid`` naming each variable refused and why."""
    try:
        return Settings()
    except ValidationError as error:
        problems = [
            f"{_ENV_PREFIX}{str(e['loc'][0]).upper()}={e.get('input')!r}: {e['msg']}" for e in error.errors()
        ]
        raise SettingsInvalid(problems) from None


def get_settings() -> Settings:
    """The settings as the environment says now (tests and commands may change it between calls).

    Parsing is cached by the values of the ``LIFELINE_*`` variables (upper-case spelling), so a
    changed variable is seen at the next call while a hot path (every API request) pays thirteen
    dictionary look-ups, not a parse. Treat the result as read-only: it is shared."""
    key = tuple(map(_ENVIRON.get, _KEYS))
    found = _parsed.get(key)
    if found is None:
        found = _parse()
        with _lock:
            if len(_parsed) > 64:
                _parsed.clear()
            _parsed[key] = found
    return found
