"""API keys: create (the secret is shown once), revoke, and authenticate a bearer token.

Only the SHA-256 of a key is stored, so a leaked database does not leak usable keys; ``prefix`` (the
first characters of the key) lets people tell their keys apart in listings. A key's name is unique
among the keys that are not revoked: it appears in every event its holder writes
(``agent:<name>``), so two live keys with one name would make the history ambiguous.

``KEY_CACHE`` remembers, per process, the holders of valid keys for ``KEY_CACHE_SECONDS`` so that an
API request does not pay a query to authenticate. Revoking a key clears this process's cache, so
the revoked key is refused at once here; **another process (an API server, when the CLI revokes)
may accept a revoked key for up to KEY_CACHE_SECONDS**. Unknown and revoked keys are never cached.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from casework.errors import ApiKeyNameTaken, ApiKeyNotFound, InvalidKeyName
from models.kinds import Role
from models.tables import ApiKey

KEY_PREFIX = "ll_"
KEY_CACHE_SECONDS = 5.0
PREFIX_LENGTH = 10
MAX_NAME_LENGTH = 200


@dataclass(frozen=True)
class CreatedKey:
    """A new key: ``secret`` is the only copy of the plain key; it cannot be shown again."""

    id: int
    name: str
    role: Role
    prefix: str
    secret: str


@dataclass(frozen=True)
class KeyHolder:
    """Who a valid bearer token belongs to, detached from the session."""

    id: int
    name: str
    role: Role

    @property
    def actor(self) -> str:
        """The actor written on the events this key's holder causes: ``agent:<name>``."""
        return f"{self.role}:{self.name}"


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _check_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > MAX_NAME_LENGTH or any(ch.isspace() for ch in cleaned):
        raise InvalidKeyName(
            f"a key name is 1 to {MAX_NAME_LENGTH} characters without spaces (it becomes the actor "
            f"'<role>:<name>' in case histories), got {name!r}"
        )
    return cleaned


def create_key(session: Session, name: str, role: Role, now: datetime) -> CreatedKey:
    """Store a new key for ``role`` and return it with its secret (flushed, not committed)."""
    name = _check_name(name)
    if _active_by_name(session, name) is not None:
        raise ApiKeyNameTaken(name)
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        name=name, role=Role(role), key_hash=hash_key(secret), prefix=secret[:PREFIX_LENGTH], created_at=now
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    return CreatedKey(row.id, row.name, row.role, row.prefix, secret)


def _active_by_name(session: Session, name: str) -> ApiKey | None:
    query = select(ApiKey).where(ApiKey.name == name, col(ApiKey.revoked_at).is_(None))
    return session.exec(query).first()


def revoke_key(session: Session, ref: str, now: datetime) -> ApiKey:
    """Revoke the active key whose id (digits) or name is ``ref``; ApiKeyNotFound otherwise.

    The row stays (revoked_at set) so the history's actors keep a meaning."""
    row: ApiKey | None = None
    if ref.isdigit():
        found = session.get(ApiKey, int(ref))
        row = found if found is not None and found.revoked_at is None else None
    if row is None:
        row = _active_by_name(session, ref)
    if row is None:
        raise ApiKeyNotFound(ref)
    row.revoked_at = now
    session.add(row)
    session.flush()
    KEY_CACHE.clear()
    return row


def authenticate(session: Session, secret: str) -> KeyHolder | None:
    """The holder of ``secret`` if it is a known, unrevoked key; None otherwise."""
    if not secret.startswith(KEY_PREFIX):
        return None
    row = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_key(secret))).first()
    if row is None or row.revoked_at is not None:
        return None
    assert row.id is not None
    return KeyHolder(row.id, row.name, row.role)


def holder_by_id(session: Session, key_id: int) -> KeyHolder | None:
    """The holder of the key with id ``key_id`` if it is not revoked; None otherwise (the console's
    sessions name their key by id, never by secret)."""
    row = session.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None:
        return None
    return KeyHolder(key_id, row.name, row.role)


class KeyCache:
    """Holders of valid keys by (database, key hash), each kept for ``ttl`` seconds (see module
    docstring for what this means for revocation across processes)."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic, size: int = 10_000) -> None:
        self.ttl = ttl
        self.clock = clock
        self.size = size
        self._entries: dict[tuple[str, str], tuple[float, KeyHolder]] = {}
        self._lock = threading.Lock()

    def get(self, database: str, secret: str) -> KeyHolder | None:
        """The cached holder of ``secret`` in ``database`` if still fresh; None means "ask the database"."""
        entry = self._entries.get((database, hash_key(secret)))
        if entry is None or entry[0] <= self.clock():
            return None
        return entry[1]

    def put(self, database: str, secret: str, holder: KeyHolder) -> None:
        with self._lock:
            if len(self._entries) >= self.size:
                self._entries.clear()
            self._entries[(database, hash_key(secret))] = (self.clock() + self.ttl, holder)

    def forget(self, database: str, secret: str) -> None:
        """Drop one entry (a console session that signed out)."""
        with self._lock:
            self._entries.pop((database, hash_key(secret)), None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


KEY_CACHE = KeyCache(KEY_CACHE_SECONDS)


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).order_by(col(ApiKey.id))).all())
