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

A ``CaseRow`` reads the ``state`` column as its JSON text: the sweep advances every claimed case
from it, and ``read_state`` decodes that text straight into the engine's state, which took half
the time of decoding a dict and converting it (``sla_engine.state.state_from_json``). The dict
(``state``) is decoded only if asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from models import json_codec
from models.tables import Case
from sla_engine.kinds import Status
from sla_engine.state import CaseState, state_from_dict, state_from_json


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
    #: The ``state`` column's JSON text as read (the database's text, not re-encoded).
    state_text: str
    version: int
    last_seq: int
    #: The ``state`` column's value once decoded or set (``set_values``); then it is the truth.
    _state: dict[str, Any] | None = None

    @property
    def state(self) -> dict[str, Any]:
        """The ``state`` column's value: decoded from the text read on first use, or as last set."""
        if self._state is None:
            self._state = json_codec.loads(self.state_text)
        return self._state

    @state.setter
    def state(self, value: dict[str, Any]) -> None:
        self._state = value

    def read_state(self) -> CaseState:
        """The engine's state as the row holds it (``state_from_dict(self.state)``, equal), from the
        text read unless a dict was decoded or set since."""
        return state_from_json(self.state_text) if self._state is None else state_from_dict(self._state)


def _column(name: str) -> Any:
    if name == "state_text":  # the JSON column as its text, on either database
        return sa.cast(Case.__table__.c.state, sa.Text).label("state")  # type: ignore[attr-defined]
    return Case.__table__.c[name]  # type: ignore[attr-defined]


#: The columns a ``CaseRow`` is built from, positionally.
COLUMNS = tuple(_column(f.name) for f in fields(CaseRow) if f.name != "_state")


def values_of(case: CaseRecord, names: Iterable[str]) -> dict[str, Any]:
    """The case's current values of ``names``, for ``set_values`` to give back if a write fails. A
    ``CaseRow``'s state not yet decoded is kept so (as None: decoding it only in case of a failure
    was a JSON parse per swept case)."""
    if isinstance(case, CaseRow):
        return {name: case._state if name == "state" else getattr(case, name) for name in names}
    return {name: getattr(case, name) for name in names}


def set_values(case: CaseRecord, values: Mapping[str, Any]) -> None:
    """Give ``case`` the column values the database now holds: a ``CaseRow`` by assignment, a
    ``Case`` as *committed* values (it reads as stored and the session never writes it again).
    A ``CaseRow``'s state given back as None (``values_of``) reads from its text again."""
    if isinstance(case, CaseRow):
        for name, value in values.items():
            if name == "state":
                case._state = value
            else:
                setattr(case, name, value)
    else:
        for name, value in values.items():
            set_committed_value(case, name, value)
