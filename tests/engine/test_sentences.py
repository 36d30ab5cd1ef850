"""Every kind of event a timeline can hold, said in words (``sla_engine.sentences``).

The console's case page, ``lifeline policies simulate`` and ``POST /v1/policies/{id}/simulate`` show
these lines to agents and admins; each optional part (a cycle, a target, a cap, a pause's length) is
checked both present and absent, so a sentence cannot lose or gain a part unnoticed.
"""

from __future__ import annotations

from typing import Any

import pytest

from sla_engine.events import EngineEvent
from sla_engine.kinds import EventKind
from sla_engine.sentences import SENTENCES as TABLE
from sla_engine.sentences import describe, sentence
from sla_engine.simulation import timeline_entry
from tests.engine.builders import T0

K = EventKind
OPENED = {"priority": "P1", "priority_reason": "default", "stage": "triage", "queue": "support"}

SENTENCES: list[tuple[EventKind, dict[str, Any], str]] = [
    (K.OPENED, OPENED, "opened as P1 (default) in triage, queue support"),
    (
        K.OPENED,
        {**OPENED, "status": "waiting_on_creator"},
        "opened as P1 (default) in triage, queue support, waiting_on_creator",
    ),
    (
        K.STATUS_CHANGED,
        {"from": "open", "to": "in_progress", "action": "start"},
        "open -> in_progress (start)",
    ),
    (
        K.AT_RISK,
        {"clock": "first_response", "due_at": "2026-03-02T10:00:00+00:00"},
        "first_response at risk, due 2026-03-02T10:00:00+00:00",
    ),
    (K.AT_RISK, {"clock": "update", "cycle": 3, "due_at": "X"}, "update at risk (cycle 3), due X"),
    (K.AT_RISK, {"clock": "update"}, "update at risk, due None"),
    (
        K.BREACHED,
        {"clock": "resolution", "target": 5400, "priority": "P2"},
        "resolution breached at its deadline (target 1h30m), priority P2",
    ),
    (
        K.BREACHED,
        {"clock": "resolution", "target": 1800, "priority": "P2"},
        "resolution breached at its deadline (target 30m), priority P2",
    ),
    (
        K.BREACHED,
        {"clock": "resolution", "target": 0, "priority": "P3"},
        "resolution breached at its deadline, priority P3",
    ),
    (
        K.BREACHED,
        {"clock": "sponsored", "target": 60, "capped_by": "not_after", "priority": "P1"},
        "sponsored breached at its deadline (capped by not_after), priority P1",
    ),
    (
        K.ESCALATED,
        {"from": "triage", "to": "tier2", "reason": "timeout", "queue": "urgent"},
        "triage -> tier2 (timeout), queue urgent",
    ),
    (K.NOTIFIED, {"channel": "email", "reason": "breach"}, "notify email: breach"),
    (K.PRIORITY_CHANGED, {"from": "P3", "to": "P1", "reason": "followers"}, "P3 -> P1 (followers)"),
    (
        K.PAUSED,
        {"clock": "resolution", "action": "request_info", "status": "x"},
        "resolution paused (request_info)",
    ),
    (K.PAUSED, {"stage": "triage", "status": "waiting_on_creator"}, "triage paused (waiting_on_creator)"),
    (K.CLOCK_STARTED, {"clock": "update", "on": "acknowledge"}, "update started on acknowledge"),
    (K.CLOCK_STARTED, {"clock": "update", "on": "timer", "cycle": 2}, "update started on timer (cycle 2)"),
    (K.REPLIED, {"message": "We are on it"}, "public reply: We are on it"),
    (K.ACKNOWLEDGED, {"status": "in_progress"}, "acknowledged while in_progress"),
    (K.CREATOR_REPLIED, {"status": "open"}, "creator wrote while open"),
    (
        K.PAUSE_EXPIRED,
        {"until": "2026-03-03T09:00:00+00:00"},
        "waiting on the creator ran out at 2026-03-03T09:00:00+00:00",
    ),
    (K.RESUMED, {"clock": "resolution", "paused_for": 7260}, "resolution running again after 2h01m paused"),
    (K.RESUMED, {"clock": "resolution", "paused_for": 0}, "resolution running again"),
    (K.RESUMED, {"stage": "triage"}, "triage running again"),
    (K.CLOCK_STOPPED, {"stage": "triage", "status": "resolved"}, "stage triage timer stopped on resolved"),
    (
        K.CLOCK_STOPPED,
        {"clock": "first_response", "elapsed": 900, "met": True, "status": "acknowledged"},
        "first_response stopped on acknowledged after 15m (met)",
    ),
    (
        K.CLOCK_STOPPED,
        {
            "clock": "update",
            "cycle": 2,
            "elapsed": 4000,
            "met": False,
            "action": "reply",
            "status": "in_progress",
        },
        "update cycle 2 stopped on reply after 1h07m (missed)",
    ),
    (K.ASSIGNED, {"from": None, "to": "agent:ana"}, "assigned to agent:ana (was nobody)"),
    (K.ASSIGNED, {"from": "agent:ana", "to": None}, "assigned to nobody (was agent:ana)"),
    (K.NOTE_ADDED, {"text": "called the creator"}, "note: called the creator"),
    (K.QUEUE_CHANGED, {"from": "support", "to": "vip"}, "queue support -> vip"),
    (
        K.POLICY_MIGRATED,
        {
            "from": 1,
            "to": 2,
            "mode": "rebase",
            "before": {"next_deadline_at": "A"},
            "after": {"next_deadline_at": "B"},
        },
        "policy version 1 -> 2 (rebase), next deadline A -> B",
    ),
    (
        K.ATTRIBUTES_CHANGED,
        {"changed": {"tier": "partner", "followers": 9}},
        'attributes changed: followers=9, tier="partner"',
    ),
    (
        K.NOTIFICATION_DELIVERED,
        {"notification_id": 7, "channel": "tns-leads", "event_seq": 4, "attempts": 1, "status_code": 204},
        "delivered to tns-leads (event 4, attempt 1, HTTP 204)",
    ),
    (
        K.NOTIFICATION_DELIVERED,
        {"notification_id": 7, "channel": "creator", "event_seq": 4, "attempts": 2, "status_code": None},
        "delivered to creator (event 4, attempt 2)",
    ),
    (
        K.NOTIFICATION_FAILED,
        {"notification_id": 7, "channel": "tns-leads", "event_seq": 4, "attempts": 8, "error": "HTTP 500"},
        "not delivered to tns-leads (event 4, attempt 8): HTTP 500",
    ),
    (
        K.NOTIFICATION_REDELIVERED,
        {"channel": "tns-leads", "event_seq": 4, "previous_error": "x", "requested_by": "agent:ana"},
        "delivery to tns-leads of event 4 retried, asked by agent:ana",
    ),
    (K.LINKED, {"kind": "parent_of", "case_id": "c-2"}, "linked (parent_of) c-2"),
    (K.UNLINKED, {"kind": "related", "case_id": "c-3"}, "unlinked (related) c-3"),
    (K.MERGED, {"into": "c-1"}, "merged into c-1"),
    (K.MERGED, {"from": "c-9"}, "c-9 merged into this case"),
    (K.CREATOR_LINK_ROTATED, {"rotations": 2}, "the creator's status link was replaced (rotation 2)"),
]


@pytest.mark.parametrize(
    ("kind", "data", "sentence"), SENTENCES, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(SENTENCES)]
)
def test_each_kind_of_event_reads_as_one_sentence(
    kind: EventKind, data: dict[str, Any], sentence: str
) -> None:
    assert describe(EngineEvent(kind, T0, "agent:ana", data)) == sentence


def test_a_timeline_entry_names_the_clock_before_the_stage_and_neither_when_absent() -> None:
    both = timeline_entry(EngineEvent(K.PAUSED, T0, "agent:ana", {"clock": "c", "stage": "s", "action": "a"}))
    assert both == {
        "at": T0.isoformat(),
        "kind": "paused",
        "clock": "c",
        "detail": "c paused (a)",
        "actor": "agent:ana",
    }
    bare = timeline_entry(EngineEvent(K.NOTE_ADDED, T0, "agent:ana", {"text": "hi"}))
    assert bare == {"at": T0.isoformat(), "kind": "note_added", "detail": "note: hi", "actor": "agent:ana"}


def test_every_kind_of_event_has_a_sentence_and_a_case_above() -> None:
    assert set(TABLE) == set(EventKind)
    assert {kind for kind, _, _ in SENTENCES} == set(EventKind)


def test_a_kind_without_a_sentence_reads_as_its_data_without_the_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(TABLE, K.LINKED)  # as a kind added before its sentence is
    event = EngineEvent(
        K.LINKED, T0, "agent:ana", {"kind": "parent_of", "case_id": "c-2", "request": {"x": 1}}
    )
    assert sentence(event) is None
    assert describe(event) == "kind=parent_of, case_id=c-2"


def test_stored_data_that_lacks_a_part_raises_key_error_for_the_reader_to_handle() -> None:
    with pytest.raises(KeyError):
        sentence(EngineEvent(K.NOTIFICATION_FAILED, T0, "system:delivery", {"channel": "x"}))
