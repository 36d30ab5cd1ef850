"""An agent's working queue: a page of ``case_queries.list_cases`` (open cases, nearest deadline
first, the same filters and cursors) with what a queue row shows beyond the listing: the creator's
handle and platform, why the case has its priority, and the deadline to count down to.

The deadline of a row is the one an agent must beat next: a clock that has breached and still runs
(the most overdue: the case is late now), else the nearest due clock or stage escalation, with the
instant its clock turns at-risk (``warn_due_at``) when it has one, or ``warned`` once the warning is
recorded (the engine clears ``warn_due_at`` then).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_
from sqlmodel import Session, col, func, select

from casework.queries.case_queries import CaseFilters, ListedCase, list_cases
from casework.queries.pagination import PageOf
from casework.registry import policy_registry
from models.tables import PolicyVersion
from sla_engine.agent_actions import known_priorities
from sla_engine.kinds import ClockStatus


@dataclass(frozen=True)
class Deadline:
    """What a row counts down to: a clock's deadline (``name`` the clock) or the stage's
    escalation (``name`` the stage id, ``escalation`` true)."""

    name: str
    escalation: bool
    due_at: datetime
    warn_at: datetime | None
    breached: bool
    #: The clock's at-risk warning was recorded (its ``warn_due_at`` is cleared then).
    warned: bool = False

    def at_risk(self, now: datetime) -> bool:
        """Inside the warn window at ``now``: warned (or past the warning instant), not yet due."""
        if self.breached or self.due_at <= now:
            return False
        return self.warned or (self.warn_at is not None and self.warn_at <= now)


@dataclass(frozen=True)
class QueueRow:
    case: ListedCase
    creator_handle: str | None
    creator_platform: str | None
    deadline: Deadline | None


def _instant(text: Any) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) else None


def next_deadline(stage: Mapping[str, Any], clocks: Sequence[Mapping[str, Any]]) -> Deadline | None:
    """The row's deadline (see the module docstring) from the stored stage and clocks; None when
    nothing runs."""
    running = [c for c in clocks if c.get("status") == ClockStatus.RUNNING and _instant(c.get("due_at"))]
    late = [c for c in running if c.get("breached_at")]
    candidates = [
        Deadline(
            str(c["name"]),
            False,
            _instant(c["due_at"]) or datetime.max,
            _instant(c.get("warn_due_at")),
            bool(c.get("breached_at")),
            bool(c.get("warned")),
        )
        for c in (late or running)
    ]
    stage_due = _instant(stage.get("due_at"))
    if not late and stage.get("status") == ClockStatus.RUNNING and stage_due and not stage.get("breached_at"):
        candidates.append(Deadline(str(stage["id"]), True, stage_due, None, False))
    return min(candidates, key=lambda d: d.due_at) if candidates else None


def _text(mapping: Any, key: str) -> str | None:
    value = mapping.get(key) if isinstance(mapping, Mapping) else None
    return value if isinstance(value, str) else None


def _row(listed: ListedCase) -> QueueRow:
    return QueueRow(
        case=listed,
        creator_handle=_text(listed.creator, "handle"),
        creator_platform=_text(listed.creator, "platform"),
        deadline=next_deadline(listed.stage, listed.clocks),
    )


def queue_page(
    connection: Connection, filters: CaseFilters, limit: int, cursor: str | None
) -> PageOf[QueueRow]:
    """One page of the queue: the listing with each case's creator, in one read (run it in a
    transaction: the listing's two statements agree)."""
    page = list_cases(connection, filters, limit, cursor, creators=True)
    return PageOf([_row(row) for row in page.items], page.next_cursor)


@dataclass(frozen=True)
class QueueChoices:
    """The values the queue's filters offer, from the latest version of every registered policy."""

    incident_types: list[str]
    queues: list[str]
    priorities: list[str]


_LATEST = (
    select(PolicyVersion.policy_id, func.max(PolicyVersion.version).label("version"))
    .group_by(col(PolicyVersion.policy_id))
    .subquery()
)
#: The latest version of each policy with its SHA-256; built once (building costs more than running).
_LATEST_VERSIONS = select(PolicyVersion.policy_id, PolicyVersion.version, PolicyVersion.sha256).join(
    _LATEST,
    and_(
        col(PolicyVersion.policy_id) == _LATEST.c.policy_id,
        col(PolicyVersion.version) == _LATEST.c.version,
    ),
)


def queue_choices(session: Session) -> QueueChoices:
    """The filters' values: one query (the latest version of each policy with its SHA-256), then
    the choices made from those versions before, or from their parsed policies (the registry's
    cache, no query each)."""
    versions = tuple(sorted(session.exec(_LATEST_VERSIONS).all()))
    found = _choices.get(versions)
    if found is None:
        found = _choices_of(session, versions)
        if len(_choices) > 64:
            _choices.clear()
        _choices[versions] = found
    return found


#: Choices by the latest versions they were made from (immutable rows: a new version is a new key).
_choices: dict[tuple[tuple[str, int, str], ...], QueueChoices] = {}


def _choices_of(session: Session, versions: Sequence[tuple[str, int, str]]) -> QueueChoices:
    incident_types: set[str] = set()
    queues: set[str] = set()
    priorities: set[str] = set()
    for policy_id, version, sha256 in versions:
        policy, _calendar = policy_registry.get_policy(session, policy_id, version, sha256=sha256)
        incident_types.add(policy.incident_type)
        queues.update(stage.queue for stage in policy.stages)
        priorities.update(known_priorities(policy))
    return QueueChoices(sorted(incident_types), sorted(queues), sorted(priorities))
