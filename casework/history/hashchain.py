"""The tamper-evident hash chain of each case's history.

An event's ``hash`` is the SHA-256 of the canonical JSON (sorted keys, compact separators, UTF-8) of
the event without its hash: case_id, seq, kind, at, recorded_at, actor, data, policy_version,
dedupe_key and prev_hash, the previous event's hash (64 zeros for seq 1). Datetimes enter as UTC ISO
8601 with microseconds. Changing, deleting, inserting or reordering a stored event therefore breaks
the chain at that event, and ``verify_chain`` names the case and seq.

The chain has no secret: it proves the history was not changed *by accident or by a careless
hand*; someone who rewrites a whole chain and the case's ``last_seq`` can forge it. Exports carry the
hashes so an auditor can anchor them elsewhere.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec
from sqlmodel import Session, col, select

from models import json_codec
from models.tables import Case, CaseEvent
from sla_engine.instants import utc_iso_micro

GENESIS_HASH = "0" * 64


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc_iso(value)
    raise TypeError(f"event data must be JSON values, got {type(value).__name__}: {value!r}")


#: One encoder for every canonical text (``json.dumps`` with these options built one per call).
_CANONICAL = json.JSONEncoder(
    sort_keys=True,
    separators=(",", ":"),
    ensure_ascii=False,
    allow_nan=False,
    default=_json_default,
).encode


#: msgspec's encoder with sorted keys: byte for byte the canonical text of the values
#: ``_msgspec_writes_alike`` admits.
_SORTED = msgspec.json.Encoder(order="sorted").encode


def canonical_json(value: Any) -> str:
    """``value`` as canonical JSON: sorted keys, compact separators, UTF-8 (no ``\\u`` escapes
    but for control characters), datetimes as ``utc_iso`` gives them; NaN, infinities and values
    JSON cannot hold are refused (ValueError, TypeError).

    The definition is the standard library's encoder with those options (``_CANONICAL``). A value
    made only of what msgspec writes the same way (``_msgspec_writes_alike``) is encoded by
    msgspec instead, in a fifth of the time: a sweep hashes ~26,000 events, each one's data
    encoded here (~2 % of its CPU, bench/README.md "2026-12-04 (Friday night)").
    tests/casework/test_hash_format.py checks that both give the same text for any JSON value."""
    if _msgspec_writes_alike(value):
        try:
            return str(_SORTED(value), "utf-8")
        except UnicodeEncodeError:  # a lone surrogate: the definition's text, as before
            pass
    return _CANONICAL(value)


#: The float magnitudes msgspec writes as ``repr`` does: outside them their exponents differ
#: (``1e-05`` against ``0.00001``, ``1e+16`` against ``1e16``).
_REPR_FLOATS = (1e-4, 1e15)


def _msgspec_writes_alike(value: Any) -> bool:
    """True when msgspec's text of ``value`` is the canonical one: str, int, bool and None, finite
    floats of magnitude in ``_REPR_FLOATS`` (or zero), and lists, tuples and dicts with str keys of
    those. Anything else (a datetime, a str subclass, a set, NaN) takes the definition's path."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return bool(value == 0.0 or _REPR_FLOATS[0] <= abs(value) < _REPR_FLOATS[1])
    if kind is dict:
        return all(type(key) is str and _msgspec_writes_alike(item) for key, item in value.items())
    if kind is list or kind is tuple:
        return all(_msgspec_writes_alike(item) for item in value)
    return False


def normalize_json(value: Mapping[str, Any]) -> dict[str, Any]:
    """``value`` as it will read back from the database (tuples become lists, datetimes ISO text):
    store this, so the hash is computed over exactly what is stored."""
    return normalized_with_text(value)[0]


def normalized_with_text(value: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """``normalize_json(value)`` and its canonical JSON text (the same for both: a normalized
    value encodes to the text it was decoded from), so the text serves the hash without encoding
    the value a second time."""
    text = canonical_json(dict(value))
    result: dict[str, Any] = json_codec.loads(text)  # what json.loads gives, faster
    return result, text


def utc_iso(value: datetime) -> str:
    """``value.astimezone(UTC).isoformat(timespec="microseconds")``, as every hash covers it."""
    return utc_iso_micro(value)


def body_of(
    case_id: str,
    seq: int,
    kind: str,
    at: datetime,
    recorded_at: datetime,
    actor: str,
    data: Any,
    policy_version: int,
    dedupe_key: str | None,
    prev_hash: str,
) -> dict[str, Any]:
    """What an event's hash covers, from its values: the one definition, for stored events
    (``event_body``) and for rows about to be written (casework.history.event_rows)."""
    return {
        "case_id": case_id,
        "seq": seq,
        "kind": kind,
        "at": utc_iso(at),
        "recorded_at": utc_iso(recorded_at),
        "actor": actor,
        "data": data,
        "policy_version": policy_version,
        "dedupe_key": dedupe_key,
        "prev_hash": prev_hash,
    }


def body_hash(
    case_id: str,
    seq: int,
    kind: str,
    at: datetime,
    recorded_at: datetime,
    actor: str,
    data_text: str,
    policy_version: int,
    dedupe_key: str | None,
    prev_hash: str,
) -> str:
    """``hash_body(body_of(...))`` with ``data`` given as its canonical JSON text (for rows about
    to be written: ``normalized_with_text`` gave it). The body's text is assembled in the canonical
    key order (sorted) from each value's canonical text: the same bytes as ``canonical_json`` of
    the body (tests/casework/test_hash_format.py compares them), without encoding the data twice."""
    text = (
        f'{{"actor":{_scalar(actor)},"at":"{utc_iso(at)}","case_id":{_scalar(case_id)},'
        f'"data":{data_text},"dedupe_key":{_scalar(dedupe_key)},"kind":{_scalar(kind)},'
        f'"policy_version":{_scalar(policy_version)},"prev_hash":{_scalar(prev_hash)},'
        f'"recorded_at":"{utc_iso(recorded_at)}","seq":{_scalar(seq)}}}'
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


#: What the canonical encoder does with a str (``ensure_ascii=False``): the same function, called
#: directly (a sweep hashes ~2,700 events of seven scalars each; the encoder's entry cost ~3 us each).
_encode_str = json.encoder.encode_basestring


def _scalar(value: str | int | None) -> str:
    """``canonical_json(value)`` of a plain str, int or None, without the encoder's dispatch."""
    if type(value) is str:
        return _encode_str(value)
    if type(value) is int:
        return int.__repr__(value)
    return "null" if value is None else _CANONICAL(value)


def event_body(event: CaseEvent, *, seq: int | None = None) -> dict[str, Any]:
    """What the hash covers (``seq`` overrides the stored one, to recognise a moved event)."""
    return body_of(
        event.case_id,
        event.seq if seq is None else seq,
        str(event.kind),
        event.at,
        event.recorded_at,
        event.actor,
        event.data,
        event.policy_version,
        event.dedupe_key,
        event.prev_hash,
    )


def hash_body(body: dict[str, Any]) -> str:
    """The SHA-256 of ``body``'s canonical JSON, as hex."""
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def compute_hash(event: CaseEvent, *, seq: int | None = None) -> str:
    return hash_body(event_body(event, seq=seq))


def seal(event: CaseEvent) -> CaseEvent:
    """Set ``event.hash`` from its other fields (``prev_hash`` must already be set)."""
    event.hash = compute_hash(event)
    return event


class ProblemKind(StrEnum):
    HASH_MISMATCH = "hash_mismatch"
    PREV_HASH_MISMATCH = "prev_hash_mismatch"
    SEQ_GAP = "seq_gap"
    REORDERED = "reordered"
    TRUNCATED = "truncated"
    UNEXPECTED_EVENTS = "unexpected_events"


@dataclass(frozen=True)
class ChainProblem:
    """The first place a case's chain breaks: ``seq`` is the first event that cannot be trusted."""

    case_id: str
    seq: int
    kind: ProblemKind
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "seq": self.seq, "problem": str(self.kind), "detail": self.detail}


def verify_chain(session: Session, case_id: str | None = None) -> list[ChainProblem]:
    """Walk every case's events (or one case's) in seq order; one problem per broken case, in
    case id order. An empty list means every chain is intact."""
    cases_query = select(Case.id, Case.last_seq).order_by(col(Case.id))
    events_query = select(CaseEvent).order_by(col(CaseEvent.case_id), col(CaseEvent.seq))
    if case_id is not None:
        cases_query = cases_query.where(Case.id == case_id)
        events_query = events_query.where(CaseEvent.case_id == case_id)
    last_seqs: dict[str, int] = dict(session.exec(cases_query).all())
    problems: dict[str, ChainProblem] = {}
    events = session.exec(events_query.execution_options(yield_per=1000))
    for cid, group in itertools.groupby(events, key=lambda e: e.case_id):
        problem = verify_case_events(cid, list(group), last_seqs.get(cid, 0))
        if problem is not None:
            problems[cid] = problem
    seen_or_broken = set(problems)
    for cid, last in last_seqs.items():
        if cid not in seen_or_broken and last > 0 and not _has_events(session, cid):
            problems[cid] = ChainProblem(
                cid, 1, ProblemKind.TRUNCATED, f"the case records {last} events but none is stored"
            )
    return [problems[cid] for cid in sorted(problems)]


def _has_events(session: Session, case_id: str) -> bool:
    return session.exec(select(CaseEvent.id).where(CaseEvent.case_id == case_id).limit(1)).first() is not None


def verify_case_events(case_id: str, events: Sequence[CaseEvent], last_seq: int) -> ChainProblem | None:
    """The first break in one case's events (sorted by seq), or None if the chain holds."""
    prev = GENESIS_HASH
    expected = 1
    seqs = [e.seq for e in events]
    for event in events:
        problem = _check_event(case_id, event, expected, prev, seqs)
        if problem is not None:
            return problem
        prev = event.hash
        expected += 1
    return _check_length(case_id, expected - 1, last_seq)


def _check_event(
    case_id: str, event: CaseEvent, expected: int, prev: str, seqs: Iterable[int]
) -> ChainProblem | None:
    if event.seq > expected:
        return ChainProblem(
            case_id,
            expected,
            ProblemKind.SEQ_GAP,
            f"seq {expected} is missing (the next stored event is seq {event.seq}): "
            "an event was deleted or the events were renumbered",
        )
    if event.seq != expected:
        return ChainProblem(
            case_id, event.seq, ProblemKind.SEQ_GAP, f"seq {event.seq} where seq {expected} was expected"
        )
    if compute_hash(event) != event.hash:
        for other in seqs:
            if other != event.seq and compute_hash(event, seq=other) == event.hash:
                return ChainProblem(
                    case_id,
                    event.seq,
                    ProblemKind.REORDERED,
                    f"the event stored as seq {event.seq} was written as seq {other}: "
                    "events were reordered, or one was inserted or deleted before it",
                )
        return ChainProblem(
            case_id,
            event.seq,
            ProblemKind.HASH_MISMATCH,
            f"stored hash {event.hash[:12]}… differs from the recomputed {compute_hash(event)[:12]}…: "
            "the event's content (kind, at, actor, data, ...) was changed after it was written",
        )
    if event.prev_hash != prev:
        return ChainProblem(
            case_id,
            event.seq,
            ProblemKind.PREV_HASH_MISMATCH,
            f"prev_hash {event.prev_hash[:12]}… is not the hash of seq {event.seq - 1} ({prev[:12]}…): "
            "an event was inserted, replaced or rewritten before it",
        )
    return None


def _check_length(case_id: str, stored: int, last_seq: int) -> ChainProblem | None:
    if stored < last_seq:
        return ChainProblem(
            case_id,
            stored + 1,
            ProblemKind.TRUNCATED,
            f"the case records {last_seq} events but its history ends at seq {stored}: "
            "the last events were deleted",
        )
    if stored > last_seq:
        return ChainProblem(
            case_id,
            last_seq + 1,
            ProblemKind.UNEXPECTED_EVENTS,
            f"the case records {last_seq} events but {stored} are stored: "
            "events were appended outside Lifeline",
        )
    return None
