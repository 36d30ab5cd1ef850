"""Tampering helpers for audit tests: change the stored history behind the services' back.

``reseal`` plays the careful forger: it recomputes every hash of a case's chain (and its
``last_seq``) after a change, so the chain holds again and only the replay can tell.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text
from sqlmodel import col, select

from casework.history.hashchain import GENESIS_HASH, seal
from models.db import session_scope
from models.tables import CaseEvent


def events_of(engine: Engine, case_id: str) -> list[CaseEvent]:
    with session_scope(engine, write=False) as session:
        query = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.seq))
        return list(session.exec(query))


def seq_of(engine: Engine, case_id: str, kind: str, nth: int = 1) -> int:
    matches = [e.seq for e in events_of(engine, case_id) if e.kind == kind]
    return matches[nth - 1]


def change_field(engine: Engine, case_id: str, seq: int, **values: Any) -> None:
    with session_scope(engine) as session:
        query = select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.seq == seq)
        event = session.exec(query).one()
        for name, value in values.items():
            setattr(event, name, value)
        session.add(event)


def delete_event(engine: Engine, case_id: str, seq: int) -> None:
    with session_scope(engine) as session:
        delete = text("DELETE FROM case_events WHERE case_id = :c AND seq = :s")
        session.execute(delete, {"c": case_id, "s": seq})


def _shift(session: Any, case_id: str, from_seq: int, by: int) -> None:
    """Renumber seq >= from_seq by ``by`` (through a far-away range: seq is unique per case)."""
    params = {"c": case_id, "s": from_seq}
    away = text("UPDATE case_events SET seq = seq + 100000 WHERE case_id = :c AND seq >= :s")
    session.execute(away, params)
    session.execute(
        text(f"UPDATE case_events SET seq = seq - 100000 + {by} WHERE case_id = :c AND seq >= 100000"),
        {"c": case_id},
    )


def insert_event(engine: Engine, case_id: str, seq: int, template_seq: int) -> None:
    """Insert a copy of event ``template_seq`` (a fresh dedupe key) as ``seq``, moving later ones up."""
    template = next(e for e in events_of(engine, case_id) if e.seq == template_seq)
    with session_scope(engine) as session:
        _shift(session, case_id, seq, 1)
        forged = CaseEvent(
            **{
                **template.model_dump(exclude={"id"}),
                "seq": seq,
                "dedupe_key": None if template.dedupe_key is None else f"{template.dedupe_key}#forged",
            }
        )
        session.add(forged)


def swap_events(engine: Engine, case_id: str, seq_a: int, seq_b: int) -> None:
    with session_scope(engine) as session:
        params = {"c": case_id, "a": seq_a, "b": seq_b}
        session.execute(text("UPDATE case_events SET seq = -1 WHERE case_id = :c AND seq = :a"), params)
        session.execute(text("UPDATE case_events SET seq = :a WHERE case_id = :c AND seq = :b"), params)
        session.execute(text("UPDATE case_events SET seq = :b WHERE case_id = :c AND seq = -1"), params)


def reseal(engine: Engine, case_id: str) -> None:
    """Renumber a case's events 1..n in seq order, recompute every hash and its ``last_seq``."""
    events = events_of(engine, case_id)
    prev = GENESIS_HASH
    for n, event in enumerate(events, start=1):
        event.seq, event.prev_hash = n, prev
        prev = seal(event).hash
    with session_scope(engine) as session:
        _shift(session, case_id, 1, 100000)  # out of the way of the unique (case_id, seq)
        for event in events:
            session.execute(
                text("UPDATE case_events SET seq = :n, prev_hash = :p, hash = :h WHERE id = :i"),
                {"n": event.seq, "p": event.prev_hash, "h": event.hash, "i": event.id},
            )
        last = text("UPDATE cases SET last_seq = :n WHERE id = :c")
        session.execute(last, {"n": len(events), "c": case_id})
