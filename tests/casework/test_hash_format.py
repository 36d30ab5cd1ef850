"""The hash chain's format is a contract: auditors recompute hashes outside Lifeline from the
documented recipe (casework/history/hashchain.py), so these tests recompute it independently, pin one
hash literally, and check every problem verify reports on in-memory chains, detail text included."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework.history.hashchain import (
    GENESIS_HASH,
    ChainProblem,
    ProblemKind,
    body_of,
    canonical_json,
    compute_hash,
    normalize_json,
    seal,
    utc_iso,
    verify_case_events,
)
from models.tables import CaseEvent
from sla_engine.kinds import EventKind

AT = datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=UTC)
ROME_WINTER = timezone(timedelta(hours=1))


def event(seq: int = 1, prev_hash: str = GENESIS_HASH, **changes: Any) -> CaseEvent:
    values: dict[str, Any] = {
        "case_id": "cs_1",
        "seq": seq,
        "kind": EventKind.NOTE_ADDED,
        "at": AT + timedelta(minutes=seq),
        "recorded_at": AT + timedelta(minutes=seq, seconds=1),
        "actor": "agent:zoë",
        "data": {"text": "café ☕", "b": [1, 2.5, None], "a": {"z": True, "y": "x"}},
        "policy_version": 3,
        "dedupe_key": None,
        "prev_hash": prev_hash,
        "hash": "",
    }
    return seal(CaseEvent(**{**values, **changes}))


def chain(n: int = 3) -> list[CaseEvent]:
    events: list[CaseEvent] = []
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        events.append(event(seq, prev, dedupe_key=f"k{seq}" if seq % 2 else None))
        prev = events[-1].hash
    return events


def documented_hash(e: CaseEvent) -> str:
    """The recipe as the module docstring gives it, written out independently."""
    body = {
        "case_id": e.case_id,
        "seq": e.seq,
        "kind": str(e.kind),
        "at": e.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00"),
        "recorded_at": e.recorded_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00"),
        "actor": e.actor,
        "data": e.data,
        "policy_version": e.policy_version,
        "dedupe_key": e.dedupe_key,
        "prev_hash": e.prev_hash,
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_the_hash_follows_the_documented_recipe() -> None:
    for e in chain(3):
        assert e.hash == documented_hash(e) == compute_hash(e)
    assert GENESIS_HASH == "0" * 64


def test_the_first_event_hash_is_pinned() -> None:
    # A change to the recipe breaks every stored chain: it needs a migration, not a quiet edit.
    assert event().hash == ("9b9be11ccb9b563df93af942c7b7c8f3655cd82e0d0966e2dcd8994300ec6207")


def test_datetimes_enter_as_utc_with_microseconds_whatever_their_offset() -> None:
    local = datetime(2026, 3, 2, 10, 0, tzinfo=ROME_WINTER)
    assert utc_iso(local) == "2026-03-02T09:00:00.000000+00:00"
    assert event(at=local).hash == event(at=local.astimezone(UTC)).hash
    assert event(at=local).hash != event(at=local + timedelta(microseconds=1)).hash


def test_hashed_instants_are_utc_whatever_the_hosts_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker on a host set to Tokyo time must seal the same bytes as one on UTC: the chain is
    verified later, elsewhere."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        assert utc_iso(datetime(2026, 3, 2, 10, 0, tzinfo=ROME_WINTER)) == "2026-03-02T09:00:00.000000+00:00"
        assert event().hash == "9b9be11ccb9b563df93af942c7b7c8f3655cd82e0d0966e2dcd8994300ec6207"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_canonical_json_is_sorted_compact_utf8_and_refuses_what_json_cannot_hold() -> None:
    assert canonical_json({"b": 1, "a": ["é", 2.5]}) == '{"a":["é",2.5],"b":1}'
    assert canonical_json({"at": AT}) == '{"at":"2026-03-02T09:00:00.123456+00:00"}'
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})
    with pytest.raises(TypeError, match="event data must be JSON values, got set"):
        canonical_json({"x": {1}})


#: Any value JSON holds, as event data may: every float (tiny, huge, negative zero), ints beyond
#: 64 bits, any text (control characters, lone surrogates, astral planes), tuples, nesting.
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.lists(st.characters() | st.sampled_from("\ud800\udfff")).map("".join),  # lone surrogates
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=6))
def test_canonical_json_is_the_standard_librarys_text_for_any_json_value(value: dict[str, Any]) -> None:
    # msgspec writes the values it can (hashchain._msgspec_writes_alike); the definition is
    # json.dumps with these options, and no stored hash may change.
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_json(value) == expected


def test_normalize_json_gives_what_the_database_reads_back() -> None:
    assert normalize_json({"t": (1, 2), "at": AT, "n": {"k": None}}) == {
        "t": [1, 2],
        "at": "2026-03-02T09:00:00.123456+00:00",
        "n": {"k": None},
    }


def problem(events: list[CaseEvent], last_seq: int | None = None) -> ChainProblem | None:
    found = verify_case_events("cs_1", events, len(events) if last_seq is None else last_seq)
    assert found is None or found.case_id == "cs_1", found
    return found


def test_an_intact_chain_has_no_problem() -> None:
    assert problem(chain(3)) is None
    assert problem([]) is None


def test_a_changed_event_is_a_hash_mismatch_naming_both_hashes() -> None:
    events = chain(3)
    events[1].actor = "agent:mallory"
    found = problem(events)
    assert found is not None
    assert (found.case_id, found.seq, found.kind) == ("cs_1", 2, ProblemKind.HASH_MISMATCH)
    assert found.detail == (
        f"stored hash {events[1].hash[:12]}… differs from the recomputed {compute_hash(events[1])[:12]}…: "
        "the event's content (kind, at, actor, data, ...) was changed after it was written"
    )
    assert found.to_dict() == {
        "case_id": "cs_1",
        "seq": 2,
        "problem": "hash_mismatch",
        "detail": found.detail,
    }


def test_a_resealed_event_with_a_wrong_prev_hash_is_named() -> None:
    events = chain(3)
    events[2].prev_hash = "f" * 64
    seal(events[2])
    found = problem(events)
    assert found is not None and (found.seq, found.kind) == (3, ProblemKind.PREV_HASH_MISMATCH)
    assert found.detail == (
        f"prev_hash {'f' * 12}… is not the hash of seq 2 ({events[1].hash[:12]}…): "
        "an event was inserted, replaced or rewritten before it"
    )


def test_a_missing_event_is_a_gap_at_the_first_missing_seq() -> None:
    events = chain(4)
    found = problem([events[0], events[2], events[3]], last_seq=4)
    assert found is not None and (found.seq, found.kind) == (2, ProblemKind.SEQ_GAP)
    assert found.detail == (
        "seq 2 is missing (the next stored event is seq 3): "
        "an event was deleted or the events were renumbered"
    )


def test_a_duplicated_seq_is_named() -> None:
    events = chain(2)
    found = problem([events[0], events[0], events[1]], last_seq=3)
    assert found is not None and (found.seq, found.kind) == (1, ProblemKind.SEQ_GAP)
    assert found.detail == "seq 1 where seq 2 was expected"


def test_an_event_moved_to_another_seq_is_reordered() -> None:
    events = chain(3)
    events[1].seq, events[2].seq = 3, 2
    found = problem([events[0], events[2], events[1]])
    assert found is not None and (found.seq, found.kind) == (2, ProblemKind.REORDERED)
    assert found.detail == (
        "the event stored as seq 2 was written as seq 3: "
        "events were reordered, or one was inserted or deleted before it"
    )


def test_a_shorter_or_longer_history_than_the_case_records_is_named() -> None:
    events = chain(3)
    truncated = problem(events, last_seq=5)
    assert truncated is not None and (truncated.seq, truncated.kind) == (4, ProblemKind.TRUNCATED)
    assert truncated.detail == (
        "the case records 5 events but its history ends at seq 3: the last events were deleted"
    )
    longer = problem(events, last_seq=1)
    assert longer is not None and (longer.seq, longer.kind) == (2, ProblemKind.UNEXPECTED_EVENTS)
    assert longer.detail == (
        "the case records 1 events but 3 are stored: events were appended outside Lifeline"
    )


@pytest.mark.parametrize(
    ("actor", "data", "dedupe_key"),
    [
        ("agent:zoë", {"text": "café ☕", "b": [1, 2.5, None], "a": {"z": True, "y": "x"}}, None),
        ('sys"tem\\ \n\t\u0001', {"quote": '"', "nested": {"k": [{"b": 1, "a": -0.0}]}}, "k:1/\u2028"),
        ("system", {}, "breached:clock:first_response"),
        ("", {"big": 10**30, "small": 1e-300, "emoji": "🚨", "keys": {"é": 1, "e": 2, "Z": 3}}, ""),
    ],
)
def test_the_writers_hash_is_the_recipes_hash(
    actor: str, data: dict[str, Any], dedupe_key: str | None
) -> None:
    """chain_events hashes a body assembled from the data's canonical text (body_hash): the bytes,
    hence the hash, must be those of the documented recipe for any actor, data and key."""
    from casework.history.hashchain import body_hash, normalized_with_text

    stored, text = normalized_with_text(data)
    at = AT.astimezone(ROME_WINTER)
    values = ("cs_ü", 7, "breached", at, AT, actor, stored, 12, dedupe_key, "f" * 64)
    expected = hashlib.sha256(
        json.dumps(body_of(*values), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
            "utf-8"
        )
    ).hexdigest()
    assert body_hash(*values[:6], text, *values[7:]) == expected
    assert text == canonical_json(stored)
