"""Bulk actions for incident waves: one agent action applied to many cases, each case in its own
transaction with its own version check, so one stale or forbidden case never undoes the others.

The targets are (case id, version) pairs: given by the caller, or read by ``select_targets`` from
a listing filter (the version each case had when selected). Each target gets one result:

- ``done``: the action was applied (``version`` is the case's new version);
- ``stale``: the case moved past the version the caller saw (re-read it and retry);
- ``forbidden``: the state machine or a link refuses the action there (e.g. a parent with open
  children, a case already resolved);
- ``not_found`` and ``invalid`` (arguments that cannot apply to that case).

Arguments that no case could take (``assign`` to an unknown agent or queue) refuse the whole
request before any case is touched (``check_action``): UnknownAgent / UnknownQueue.

``run_bulk`` is a transaction boundary (like the worker's sweep): the API route and ``lifeline
cases bulk`` share it. ``run_each`` is its per-case runner, for any work done case by case in its
own transaction (``lifeline policies migrate`` uses it too). Everything else here only reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlmodel import Session

from casework.cases import assignees, lifecycle
from casework.errors import (
    CaseNotFound,
    DuplicateTimedEvent,
    ForbiddenTransition,
    InvalidAction,
    OpenChildren,
    StaleVersion,
    TooManyCases,
    UnknownName,
)
from casework.queries import case_queries
from casework.queries.case_queries import CaseFilters
from casework.queries.pagination import MAX_PAGE
from models.db import session_scope
from sla_engine.kinds import ActionName

#: The most cases one bulk request may act on.
MAX_CASES = 10_000

RESULTS = ("done", "stale", "forbidden", "not_found", "invalid")


@dataclass(frozen=True)
class Target:
    case_id: str
    version: int | None = None


@dataclass(frozen=True)
class CaseResult:
    case_id: str
    result: str
    version: int | None = None
    detail: str | None = None
    #: More of the answer, by name (a migration's deadlines before and after).
    extra: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"case_id": self.case_id, "result": self.result}
        if self.version is not None:
            body["version"] = self.version
        if self.detail is not None:
            body["detail"] = self.detail
        return body | dict(self.extra or {})


#: Work on one case inside its own transaction: (session, target, now) -> its result.
CaseWork = Callable[[Session, Target, datetime], CaseResult]


def select_targets(connection: Connection, filters: CaseFilters, limit: int = MAX_CASES) -> list[Target]:
    """The cases ``filters`` selects (in listing order) with their versions; TooManyCases past ``limit``."""
    targets: list[Target] = []
    cursor: str | None = None
    while True:
        page = case_queries.list_cases(connection, filters, MAX_PAGE, cursor)
        targets.extend(Target(row.id, row.version) for row in page.items)
        if len(targets) > limit:
            raise TooManyCases(limit)
        if page.next_cursor is None:
            return targets
        cursor = page.next_cursor


def run_one(engine: Engine, target: Target, work: CaseWork, now: datetime, write: bool = True) -> CaseResult:
    """``work`` on one case in its own transaction; a refusal rolls back that case only and
    becomes its result (stale, forbidden, not_found, invalid)."""
    try:
        with session_scope(engine, write=write) as session:
            return work(session, target, now)
    except (StaleVersion, DuplicateTimedEvent) as err:
        return CaseResult(target.case_id, "stale", detail=str(err))
    except (ForbiddenTransition, OpenChildren) as err:
        return CaseResult(target.case_id, "forbidden", detail=str(err))
    except CaseNotFound as err:
        return CaseResult(target.case_id, "not_found", detail=str(err))
    except (InvalidAction, UnknownName) as err:  # e.g. the agent's key was revoked meanwhile
        return CaseResult(target.case_id, "invalid", detail=str(err))


def run_each(
    engine: Engine,
    targets: Sequence[Target],
    work: CaseWork,
    clock: Callable[[], datetime],
    on_result: Callable[[CaseResult], None] | None = None,
    write: bool = True,
) -> list[CaseResult]:
    """``work`` on every target in order, each in its own transaction (a read-only one unless
    ``write``) at the clock's instant when its turn comes; ``on_result`` is told of each result
    as it lands (a progress bar)."""
    results = []
    for target in targets:
        result = run_one(engine, target, work, clock(), write)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def apply_one(
    engine: Engine, target: Target, action: str, args: Mapping[str, Any], actor: str, now: datetime
) -> CaseResult:
    """The action on one case in its own transaction; a refusal rolls back that case only."""
    return run_one(engine, target, _action_work(action, args, actor), now)


def _action_work(action: str, args: Mapping[str, Any], actor: str) -> CaseWork:
    def work(session: Session, target: Target, now: datetime) -> CaseResult:
        change = lifecycle.apply_action(session, target.case_id, action, args, actor, now, target.version)
        return CaseResult(target.case_id, "done", change.case.version)

    return work


def check_action(engine: Engine, action: str, args: Mapping[str, Any], actor: str) -> None:
    """Refuse, before any case, arguments no case could take (casework.cases.assignees)."""
    if action not in set(ActionName):
        return  # every case answers ``invalid`` naming the known actions
    with session_scope(engine, write=False) as session:
        assignees.check_arguments(session, ActionName(action), args, actor)


def run_bulk(
    engine: Engine,
    targets: Sequence[Target],
    action: str,
    args: Mapping[str, Any],
    actor: str,
    clock: Callable[[], datetime],
    on_result: Callable[[CaseResult], None] | None = None,
) -> list[CaseResult]:
    """Apply ``action`` to every target in order (each at the clock's instant when its turn comes);
    ``on_result`` is told of each result as it lands (a progress bar). UnknownAgent / UnknownQueue
    (``check_action``) before any case is acted on."""
    check_action(engine, action, args, actor)
    return run_each(engine, targets, _action_work(action, args, actor), clock, on_result)


def summary(action: str, results: Sequence[CaseResult], names: Sequence[str] = RESULTS) -> dict[str, Any]:
    """The answer: the action, how many cases got each result (of ``names``), and every case's result."""
    counts = dict.fromkeys(names, 0)
    for result in results:
        counts[result.result] += 1
    return {
        "action": action,
        "total": len(results),
        "counts": counts,
        "results": [r.to_dict() for r in results],
    }
