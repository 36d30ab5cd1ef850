"""One case read for its view (GET /v1/cases/{id}, the console's case page, ``lifeline cases
show``): the case's columns, its breach flag, its pinned policy version's hash and whether any
link names it, in one statement.

The statement is SQLAlchemy's, compiled once per dialect; it is sent through the driver's cursor
and its row decoded with the columns' own result processors. SQLAlchemy's execution of this one
statement (the execution context, the compiled-cache lookup, the result's metadata, the events)
cost ~4 times the statement itself on SQLite, and this is the API's most frequent request. What
a caller gets is what ``Connection.execute`` would give: the same types, processed the same way
(``tests/casework/test_case_read.py`` compares the two on SQLite and PostgreSQL).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Dialect, bindparam, exists, or_
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from casework.errors import CaseNotFound
from models.tables import Breach, Case, CaseLink, PolicyVersion


class CaseRow(NamedTuple):
    """A case's columns for its view (``case_view.ViewedCase``): datetimes UTC, ``state`` a dict."""

    id: str
    incident_type: str
    policy_id: str
    policy_version: int
    state: dict[str, Any]
    next_deadline_at: datetime | None
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    version: int


@dataclass(frozen=True)
class CaseRead:
    """A case's row, whether it has a breach, and the SHA-256 of its pinned policy version."""

    case: CaseRow
    breached: bool
    policy_sha256: str | None
    #: Whether any link names the case (either end): without one, the view needs no links query.
    linked: bool = True


# A row of columns rather than an ORM object: the view only reads it, and the ORM's loading cost
# more than the query.
READ_CASE = sa_select(
    *(col(getattr(Case, name)) for name in CaseRow._fields),
    exists().where(col(Breach.case_id) == col(Case.id)),
    select(PolicyVersion.sha256)
    .where(
        col(PolicyVersion.policy_id) == col(Case.policy_id),
        col(PolicyVersion.version) == col(Case.policy_version),
    )
    .scalar_subquery(),
    # Two probes (one index each) rather than one OR: most cases have no link, and then the
    # linked cases' statement (a second round trip, ~a tenth of GET /v1/cases/{id}) is not run.
    or_(
        exists().where(col(CaseLink.case_id) == col(Case.id)),
        exists().where(col(CaseLink.other_case_id) == col(Case.id)),
    ),
).where(col(Case.id) == bindparam("case_id"))

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    #: The parameters' order for a positional paramstyle (SQLite's ``?``); None for named ones.
    positions: tuple[str, ...] | None
    processors: tuple[Processor, ...]

    def params(self, case_id: str) -> tuple[str, ...] | dict[str, str]:
        return (case_id,) if self.positions is not None else {"case_id": case_id}


@functools.lru_cache(maxsize=32)
def _compiled(dialect: Dialect) -> _Compiled:
    compiled = READ_CASE.compile(dialect=dialect)
    processors = tuple(
        c.type.dialect_impl(dialect).result_processor(dialect, None) for c in READ_CASE.selected_columns
    )
    positions = tuple(compiled.positiontup) if compiled.positiontup is not None else None
    assert positions in (None, ("case_id",)), positions  # one parameter, the id (no bind processing)
    return _Compiled(str(compiled), positions, processors)


def read_case(connection: Connection, case_id: str) -> CaseRead:
    """The case, its breach flag, its policy version's hash and whether it has links in one
    statement (so ``models.db.single_read`` suffices); CaseNotFound for an unknown id."""
    statement = _compiled(connection.dialect)
    cursor = connection.connection.cursor()
    try:
        cursor.execute(statement.sql, statement.params(case_id))
        raw = cursor.fetchone()
    finally:
        cursor.close()
    if raw is None:
        raise CaseNotFound(case_id)
    row = [value if p is None else p(value) for p, value in zip(statement.processors, raw, strict=True)]
    return CaseRead(CaseRow._make(row[:-3]), bool(row[-3]), row[-2], bool(row[-1]))
