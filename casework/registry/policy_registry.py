"""The policy registry: registered versions of each policy, and the parsed policy a case is pinned to.

A policy id's versions count 1, 2, ...; a new version is registered only when the canonical JSON's
SHA-256 differs from the latest version's (so applying the same files twice registers nothing, and
reverting an edit registers the old content again as a new version, which new cases then use).

``get_policy`` parses a stored version once per process (cache keyed by policy id, version and
hash, so two databases in one process never share an entry) and builds its business calendar from
the policies directory's calendars.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, func
from sqlalchemy import select as sa_select
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from casework.errors import AmbiguousPolicy, PolicyNotRegistered, PolicyRetired
from casework.registry import policy_documents
from casework.settings import get_settings
from models.tables import Case, PolicyVersion
from policies.model import Calendar, Policy
from sla_engine.business_time import BusinessCalendar
from sla_engine.kinds import ACTIVE_STATUSES

_CacheKey = tuple[str, int, str]
_policies: dict[_CacheKey, Policy] = {}
_calendar_sets: dict[Path, dict[str, Calendar]] = {}
_business_calendars: dict[tuple[Path, str], BusinessCalendar] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Registration:
    """The outcome of applying one policy: ``registered`` False means its content was unchanged."""

    policy_id: str
    version: int
    sha256: str
    registered: bool
    previous_version: int | None


@dataclass(frozen=True)
class VersionSummary:
    policy_id: str
    version: int
    sha256: str
    incident_type: str
    title: str
    registered_at: datetime
    open_cases: int
    latest: bool
    #: When the policy was retired (every version says it), else None.
    retired_at: datetime | None = None


def latest_version(session: Session, policy_id: str) -> PolicyVersion | None:
    """The latest registered version, without its document (read on first access; ``get_policy``
    has the parsed policy cached): opening a case never needs it."""
    query = (
        select(PolicyVersion)
        .options(defer(PolicyVersion.document))  # type: ignore[arg-type]
        .where(PolicyVersion.policy_id == policy_id)
        .order_by(col(PolicyVersion.version).desc())
        .limit(1)
    )
    return session.exec(query).first()


def latest_registered(session: Session, policy_id: str) -> PolicyVersion:
    """``latest_version``, retired or not (a simulation, a migration); PolicyNotRegistered if none."""
    found = latest_version(session, policy_id)
    if found is None:
        raise PolicyNotRegistered(f"policy {policy_id!r}")
    return found


def register_policies(session: Session, policies: Sequence[Policy], now: datetime) -> list[Registration]:
    """Register a new version of each policy whose content changed; flush, never commit.

    The caller validates every file first and calls this only when all are valid, inside one
    transaction, so either every changed policy is registered or none is."""
    results = []
    for policy in policies:
        latest = latest_version(session, policy.id)
        if latest is not None and latest.sha256 == policy.sha256:
            results.append(Registration(policy.id, latest.version, latest.sha256, False, latest.version))
            continue
        version = 1 if latest is None else latest.version + 1
        session.add(
            PolicyVersion(
                policy_id=policy.id,
                version=version,
                incident_type=policy.incident_type,
                title=policy.title,
                sha256=policy.sha256,
                document=policy.canonical_json,
                registered_at=now,
                retired_at=None if latest is None else latest.retired_at,  # a retired policy stays retired
            )
        )
        with _lock:
            _policies[(policy.id, version, policy.sha256)] = policy
        previous = None if latest is None else latest.version
        results.append(Registration(policy.id, version, policy.sha256, True, previous))
    session.flush()
    return results


def list_versions(session: Session) -> list[VersionSummary]:
    """Every registered version, by policy id then version, with its count of open cases."""
    active = [str(s) for s in ACTIVE_STATUSES]
    open_counts = {
        (pid, ver): n
        for pid, ver, n in session.exec(
            select(Case.policy_id, Case.policy_version, func.count())
            .where(col(Case.status).in_(active))
            .group_by(col(Case.policy_id), col(Case.policy_version))
        )
    }
    rows = session.exec(
        select(PolicyVersion).order_by(col(PolicyVersion.policy_id), col(PolicyVersion.version))
    )
    versions = list(rows)
    latest = {v.policy_id: v.version for v in versions}
    return [
        VersionSummary(
            v.policy_id,
            v.version,
            v.sha256,
            v.incident_type,
            v.title,
            v.registered_at,
            open_counts.get((v.policy_id, v.version), 0),
            latest[v.policy_id] == v.version,
            v.retired_at,
        )
        for v in versions
    ]


class PinnedVersion(NamedTuple):
    """What opening a case reads of the version it pins (a row, not a ``PolicyVersion``)."""

    policy_id: str
    version: int
    sha256: str
    retired_at: datetime | None


_VERSIONS = PolicyVersion.__table__.c  # type: ignore[attr-defined]
_PIN_COLUMNS = (_VERSIONS.policy_id, _VERSIONS.version, _VERSIONS.sha256, _VERSIONS.retired_at)
#: Built once, run as Core rows: the ORM's statement building and entity loading of the same query
#: was ~17% of POST /v1/cases under the profiler (bench/README.md).
_PIN_BY_ID = (
    sa_select(*_PIN_COLUMNS)
    .where(_VERSIONS.policy_id == bindparam("policy_id"))
    .order_by(_VERSIONS.version.desc())
    .limit(1)
)
#: Every version of the policies handling an incident type (a few rows), latest first.
_PIN_BY_TYPE = (
    sa_select(*_PIN_COLUMNS)
    .where(
        _VERSIONS.policy_id.in_(
            sa_select(_VERSIONS.policy_id).where(_VERSIONS.incident_type == bindparam("incident_type"))
        )
    )
    .order_by(_VERSIONS.version.desc())
)


def pin_for_new_case(
    session: Session, *, policy_id: str | None = None, incident_type: str | None = None
) -> PinnedVersion:
    """The latest version of ``policy_id``, or of the one policy handling ``incident_type`` (retired
    policies left out, so a retired policy's successor takes its incident type); PolicyRetired when
    the policy named, or every policy handling the type, is retired. Run on the session's connection
    after a flush (what the session's autoflush would do), so that versions added in this session
    are seen, without the session's execution machinery (~as much again as the query)."""
    session.flush()
    connection = session.connection()
    if policy_id is not None:
        row = connection.execute(_PIN_BY_ID, {"policy_id": policy_id}).first()
        if row is None:
            raise PolicyNotRegistered(f"policy {policy_id!r}")
        return _not_retired(PinnedVersion._make(row))
    if incident_type is None:
        raise ValueError("name an incident_type or a policy_id")
    latest: dict[str, PinnedVersion] = {}
    for row in connection.execute(_PIN_BY_TYPE, {"incident_type": incident_type}):
        latest.setdefault(row.policy_id, PinnedVersion._make(row))
    if not latest:
        raise PolicyNotRegistered(f"a policy for incident type {incident_type!r}")
    live = sorted(pid for pid, v in latest.items() if v.retired_at is None)
    if len(live) > 1:
        raise AmbiguousPolicy(incident_type, live)
    return latest[live[0]] if live else _not_retired(latest[min(latest)])


def _not_retired(version: PinnedVersion) -> PinnedVersion:
    if version.retired_at is not None:
        raise PolicyRetired(version.policy_id)
    return version


def get_policy(
    session: Session | Connection,
    policy_id: str,
    version: int,
    policies_dir: Path | None = None,
    *,
    sha256: str | None = None,
) -> tuple[Policy, BusinessCalendar]:
    """The parsed policy of a registered version and its business calendar (both cached).

    Calendars come from ``policies_dir`` (default LIFELINE_POLICIES_DIR): its ``calendars/`` folder,
    else the bundled calendars. Raises PolicyNotRegistered for an unknown version. A caller that
    read the version's ``sha256`` in its own query passes it, saving the query for it here. A read
    passes its connection (no ORM session to make for a query that a parsed version never runs)."""
    base = policies_dir if policies_dir is not None else get_settings().policies_dir
    sha = sha256 if sha256 is not None else _stored_sha256(session, policy_id, version)
    if sha is None:
        raise PolicyNotRegistered(f"policy {policy_id!r} version {version}")
    known = _calendars(base)
    key = (policy_id, version, sha)
    with _lock:
        policy = _policies.get(key)
    if policy is None:
        document = session.execute(
            select(PolicyVersion.document).where(
                PolicyVersion.policy_id == policy_id, PolicyVersion.version == version
            )
        ).scalar_one()
        policy = policy_documents.parse_stored(document, f"{policy_id} v{version}", known)
        with _lock:
            _policies[key] = policy
    return policy, _business_calendar(policy.calendar, known, base)


#: A version's SHA-256, built once: ``get_policy`` asks it once per version per sweep batch.
_SHA256_OF = sa_select(PolicyVersion.__table__.c.sha256).where(  # type: ignore[attr-defined]
    PolicyVersion.__table__.c.policy_id == bindparam("_policy_id"),  # type: ignore[attr-defined]
    PolicyVersion.__table__.c.version == bindparam("_version"),  # type: ignore[attr-defined]
)


def _stored_sha256(session: Session | Connection, policy_id: str, version: int) -> str | None:
    """The registered version's SHA-256 (None when it is not registered), read as a Core statement
    on the session's connection: through the ORM's ``Session.execute`` the same SELECT took ~100 µs
    against ~18 µs. A session's pending objects are flushed first, as its autoflush would."""
    if isinstance(session, Session):
        if session.autoflush:
            session.flush()
        session = session.connection()
    sha: str | None = session.execute(_SHA256_OF, {"_policy_id": policy_id, "_version": version}).scalar()
    return sha


def preload(session: Session, policies_dir: Path | None = None) -> list[str]:
    """Parse every registered version and its calendar into the cache, as a worker does at start:
    otherwise its first escalation pays the parsing and the calendars' holiday tables (~0.15 s),
    and is that late. Returns a message for each version that could not be parsed (its cases
    will fail to sweep until that is fixed; the caller logs them) rather than raising."""
    problems = []
    rows = session.exec(select(PolicyVersion.policy_id, PolicyVersion.version, PolicyVersion.sha256)).all()
    for policy_id, version, sha in rows:
        try:
            get_policy(session, policy_id, version, policies_dir, sha256=sha)
        except Exception as error:  # noqa: BLE001 - reported, never fatal: see the docstring
            problems.append(f"policy {policy_id} v{version}: {error}")
    return problems


def business_calendar(name: str, policies_dir: Path | None = None) -> BusinessCalendar:
    """The (cached) business calendar ``name`` of ``policies_dir`` (default LIFELINE_POLICIES_DIR),
    for a draft policy that is simulated without being registered."""
    base = policies_dir if policies_dir is not None else get_settings().policies_dir
    return _business_calendar(name, _calendars(base), base)


def _calendars(policies_dir: Path) -> dict[str, Calendar]:
    with _lock:
        found = _calendar_sets.get(policies_dir)
    if found is None:
        found = policy_documents.calendars(policies_dir)
        with _lock:
            _calendar_sets[policies_dir] = found
    return found


def _business_calendar(name: str, known: dict[str, Calendar], policies_dir: Path) -> BusinessCalendar:
    key = (policies_dir, name)
    with _lock:
        found = _business_calendars.get(key)
    if found is None:
        found = BusinessCalendar(policy_documents.calendar_named(name, known, policies_dir))
        with _lock:
            _business_calendars[key] = found
    return found


def clear_cache() -> None:
    """Forget parsed policies and calendars (tests; a long-running process never needs it)."""
    with _lock:
        _policies.clear()
        _calendar_sets.clear()
        _business_calendars.clear()
