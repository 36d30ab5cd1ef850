"""Tampering with one stored event, on SQLite and PostgreSQL: verify names the case and the seq."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from tests.audit.conftest import WorkedCases, run_verify
from tests.audit.tampering import change_field, delete_event, insert_event, seq_of, swap_events


def _change(engine: Engine, case: str) -> tuple[int, str]:
    seq = seq_of(engine, case, "note_added")
    change_field(engine, case, seq, actor="agent:mallory")
    return seq, "hash_mismatch"


def _delete(engine: Engine, case: str) -> tuple[int, str]:
    seq = seq_of(engine, case, "breached")
    delete_event(engine, case, seq)
    return seq, "seq_gap"


def _insert(engine: Engine, case: str) -> tuple[int, str]:
    template = seq_of(engine, case, "notified")
    insert_event(engine, case, 4, template)
    return 4, "hash_mismatch"  # a copy sealed for another place in the chain


def _reorder(engine: Engine, case: str) -> tuple[int, str]:
    seq = seq_of(engine, case, "escalated")
    swap_events(engine, case, seq, seq + 1)
    return seq, "reordered"


TAMPERS: dict[str, Callable[[Engine, str], tuple[int, str]]] = {
    "change": _change,
    "delete": _delete,
    "insert": _insert,
    "reorder": _reorder,
}


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_verify_names_the_case_and_seq_of_a_single_tampering(
    engine: Engine, worked_cases: WorkedCases, tamper: str
) -> None:
    assert run_verify(engine).clean
    seq, kind = TAMPERS[tamper](engine, worked_cases.worked)

    report = run_verify(engine)

    assert not report.clean
    named = [(p.case_id, p.seq, p.problem) for p in report.chain_problems]
    assert named == [(worked_cases.worked, seq, kind)]
    assert all(f.case_id == worked_cases.worked for f in report.findings)
