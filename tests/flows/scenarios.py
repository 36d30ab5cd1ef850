"""Scenario builders for the flow tests: a ladder policy with second-scale timers, many due cases,
and the checks every exactly-once test makes (no duplicate timed event, breach or notification;
every hash chain intact)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from casework.cases.lifecycle import open_case
from casework.history.hashchain import verify_chain
from models.db import session_scope
from models.tables import Breach, CaseEvent, Notification
from policies.model import Policy, StageSpec
from tests.casework.builders import CREATOR, register
from tests.engine.builders import make_policy, notify, target

REGISTERED_AT = datetime(2026, 1, 1, tzinfo=UTC)
#: The ladder's time step in the tests whose cases are all long overdue.
STEP = timedelta(seconds=2)
CHANNELS = ("support-leads", "security-oncall", "tns-leads", "partner-managers")


def ladder_policy(step: timedelta = timedelta(seconds=2)) -> Policy:
    """A four-stage ladder whose timers fire every ``step`` or so: at risk, first-response breach
    (notify), then a stage breach and escalation (notify) per stage; no repeating reminders."""
    seconds = max(int(step.total_seconds()), 1)
    return make_policy(
        first_response=f"PT{2 * seconds}S",
        resolution="P1D",
        warn_at=0.5,
        stages=(
            StageSpec("frontline", "creator-support", target(f"PT{3 * seconds}S")),
            StageSpec("security", "security-oncall", target(f"PT{seconds}S"), (notify("security-oncall"),)),
            StageSpec("lead", "tns-leads", target(f"PT{seconds}S"), (notify("tns-leads"),)),
            StageSpec("partner-management", "partner-managers", None, (notify("partner-managers"),)),
        ),
    )


def register_ladder(engine: Engine, step: timedelta = timedelta(seconds=2)) -> Policy:
    return register(engine, ladder_policy(step), REGISTERED_AT)


def open_cases(engine: Engine, count: int, opened_at: datetime, chunk: int = 500) -> list[str]:
    """Open ``count`` cases at ``opened_at`` (nothing advanced beyond it), in chunked transactions."""
    ids: list[str] = []
    for start in range(0, count, chunk):
        with session_scope(engine) as session:
            for _ in range(min(chunk, count - start)):
                change = open_case(
                    session,
                    incident_type="account_compromised",
                    attributes=CREATOR,
                    actor="agent:ana",
                    now=opened_at,
                )
                ids.append(change.case.id)
    return ids


def duplicates(session: Session) -> dict[str, list[object]]:
    """Anything written twice that must exist once: timed events by (case, dedupe key), breaches by
    (case, target, due), notifications by (case, event seq). Empty when exactly-once held."""
    events = Counter(
        (cid, key)
        for cid, key in session.exec(select(CaseEvent.case_id, CaseEvent.dedupe_key))
        if key is not None
    )
    breaches = Counter(session.exec(select(Breach.case_id, Breach.target, Breach.due_at)).all())
    notes = Counter(session.exec(select(Notification.case_id, Notification.event_seq)).all())
    found: dict[str, list[object]] = {
        "events": [k for k, n in events.items() if n > 1],
        "breaches": [k for k, n in breaches.items() if n > 1],
        "notifications": [k for k, n in notes.items() if n > 1],
    }
    return {name: items for name, items in found.items() if items}


def count(session: Session, table: type) -> int:
    result: int = session.exec(select(func.count()).select_from(table)).one()
    return result


def assert_exactly_once(engine: Engine) -> None:
    with session_scope(engine, write=False) as session:
        assert duplicates(session) == {}
        assert verify_chain(session) == []
