"""A case row as a plain record, for the sweep: what the batch writer reads and updates instead of a
``Case`` ORM object.

The sweep claims up to a few hundred cases per batch and writes them with Core statements
(casework.history.batch_writes), so the ORM's part was only bookkeeping: building each ``Case``
through the identity map, then moving every changed column to its new committed value
(``set_committed_value``, ~12 per case) so the session would not write it again; ~10% of a batch's
CPU (bench/README.md, 2026-12-02 evening). A ``CaseRow`` is the same columns read with a Core
SELECT (through the same column types, so the values are the ORM's), updated in place by plain
assignment. Callers holding ``Case`` objects (the API's actions, deliveries' records, a batch given
case ids) keep them: both kinds satisfy ``CaseRecord``, and ``set_values`` updates either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm.attributes import set_committed_value

from models.tables import Case
from sla_engine.kinds import Status


class CaseRecord(Protocol):
    """The case columns the write path reads (a ``Case`` or a ``CaseRow``)."""

    @property
    def id(self) -> str: ...
    @property
    def incident_type(self) -> str: ...
    @property
    def policy_id(self) -> str: ...
    @property
    def policy_version(self) -> int: ...
    @property
    def status(self) -> Status: ...
    @property
    def stage(self) -> str: ...
    @property
    def queue(self) -> str: ...
    @property
    def priority(self) -> str: ...
    @property
    def assignee(self) -> str | None: ...
    @property
    def attributes(self) -> dict[str, Any]: ...
    @property
    def opened_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def resolved_at(self) -> datetime | None: ...
    @property
    def next_deadline_at(self) -> datetime | None: ...
    @property
    def state(self) -> dict[str, Any]: ...
    @property
    def version(self) -> int: ...
    @property
    def last_seq(self) -> int: ...


@dataclass(slots=True, eq=False)
class CaseRow:
    """One ``cases`` row as read (fields are the columns, in the order ``COLUMNS`` selects them).
    Compared by identity, as a claimed ``Case`` is within its session."""

    id: str
    incident_type: str
    policy_id: str
    policy_version: int
    status: Status
    stage: str
    queue: str
    priority: str
    assignee: str | None
    attributes: dict[str, Any]
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    next_deadline_at: datetime | None
    state: dict[str, Any]
    version: int
    last_seq: int


#: The columns a ``CaseRow`` is built from, positionally.
COLUMNS = tuple(Case.__table__.c[f.name] for f in fields(CaseRow))  # type: ignore[attr-defined]


def set_values(case: CaseRecord, values: Mapping[str, Any]) -> None:
    """Give ``case`` the column values the database now holds: a ``CaseRow`` by assignment, a
    ``Case`` as *committed* values (it reads as stored and the session never writes it again)."""
    if isinstance(case, CaseRow):
        for name, value in values.items():
            setattr(case, name, value)
    else:
        for name, value in values.items():
            set_committed_value(case, name, value)
