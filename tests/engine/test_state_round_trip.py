"""A case's state survives being stored: every field, set to a value of its own, comes back equal
through ``state_to_dict`` -> JSON text -> ``state_from_dict`` (what the cases table holds), and the
listing's ``clock_from_dict`` reads one stored clock alone. States written before a field existed
(no ``cycle``, ``missed``, ``escalations`` or ``pause_until``) read with the field's default.
``state_from_dict`` decodes with msgspec's converter: for any state, stored by either JSON
encoder, the converter itself (no fallback) gives what the field-by-field definition gives; and
``state_from_json`` (the sweep's read, the stored text decoded straight into the state) gives the
same, or fails the same, as parsing the text and ``state_from_dict``. For any state, the timer the
sweep fires next (``next_timer``) is the first of its sorted pending timers."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from models import json_codec
from sla_engine.frozen import replace
from sla_engine.kinds import ClockStatus, Status
from sla_engine.state import (
    CaseState,
    ClockState,
    Meter,
    StageState,
    _state_from_fields,
    clock_from_dict,
    state_from_dict,
    state_from_json,
    state_to_dict,
)
from tests.engine.builders import T0, at

EVERY_FIELD = CaseState(
    status=Status.WAITING_ON_CREATOR,
    priority="P1",
    priority_reason="set by agent:ana",
    priority_override="P1",
    queue="security-specialists",
    assignee="agent:bo",
    attributes={"creator": {"id": "cr_1", "tier": "partner"}, "followers": 120_000},
    opened_at=T0,
    updated_at=at(95),
    stage=StageState(
        index=2,
        id="lead",
        entered_at=at(30),
        status=ClockStatus.PAUSED,
        meter=Meter(timedelta(minutes=41), at(71)),
        target=timedelta(hours=4),
        due_at=at(hours=4, minutes=30),
        breached_at=at(hours=4, minutes=31),
        repeat_meter=Meter(timedelta(minutes=7), at(88)),
        repeat_due_at=at(hours=2, minutes=30),
        repeats=3,
    ),
    clocks=(
        ClockState(
            "first_response",
            ClockStatus.STOPPED,
            Meter(timedelta(minutes=12), None),
            paused=Meter(timedelta(minutes=3), at(2)),
            target=timedelta(minutes=15),
            due_at=at(15),
            warn_due_at=at(11),
            warned=True,
            breached_at=at(16),
            stopped_at=at(12),
            stopped_by="acknowledge",
        ),
        ClockState("next_reply", ClockStatus.RUNNING, Meter(since=at(60)), cycle=4, missed=2),
    ),
    resolved_at=at(80),
    closed_at=at(90),
    escalations=5,
    pause_until=at(days=2),
)


def _stored(state: CaseState) -> dict:
    return json.loads(json.dumps(state_to_dict(state)))


def test_every_field_of_a_state_comes_back_as_it_was_stored() -> None:
    assert state_from_dict(_stored(EVERY_FIELD)) == EVERY_FIELD


def test_one_stored_clock_reads_alone_as_the_state_holds_it() -> None:
    stored = _stored(EVERY_FIELD)["clocks"]
    assert [clock_from_dict(c) for c in stored] == list(EVERY_FIELD.clocks)


def test_a_state_stored_before_cycles_escalation_counts_and_pauses_reads_with_their_defaults() -> None:
    stored = _stored(EVERY_FIELD)
    for clock in stored["clocks"]:
        clock.pop("cycle", None)
        clock.pop("missed", None)
    del stored["escalations"], stored["pause_until"]
    state = state_from_dict(stored)
    assert (state.escalations, state.pause_until) == (0, None)
    assert [(c.cycle, c.missed) for c in state.clocks] == [(0, 0), (0, 0)]
    assert state.clocks[1].status is ClockStatus.RUNNING and state.stage.repeats == 3


INSTANTS = st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC))
OPTIONAL_INSTANTS = st.none() | INSTANTS
DURATIONS = st.timedeltas(timedelta(0), timedelta(days=3650))
NAMES = st.text(min_size=1, max_size=12)
METERS = st.builds(Meter, elapsed=DURATIONS, since=OPTIONAL_INSTANTS)
CLOCKS = st.builds(
    ClockState,
    name=NAMES,
    status=st.sampled_from(ClockStatus),
    meter=METERS,
    paused=METERS,
    target=DURATIONS,
    due_at=OPTIONAL_INSTANTS,
    warn_due_at=OPTIONAL_INSTANTS,
    warned=st.booleans(),
    breached_at=OPTIONAL_INSTANTS,
    stopped_at=OPTIONAL_INSTANTS,
    stopped_by=st.none() | NAMES,
    cycle=st.integers(0, 500),
    missed=st.integers(0, 500),
).map(lambda c: c if c.cycle else replace(c, missed=0))  # only a cycle clock misses (and stores it)
STAGES = st.builds(
    StageState,
    index=st.integers(0, 20),
    id=NAMES,
    entered_at=INSTANTS,
    status=st.sampled_from(ClockStatus),
    meter=METERS,
    target=st.none() | DURATIONS,
    due_at=OPTIONAL_INSTANTS,
    breached_at=OPTIONAL_INSTANTS,
    repeat_meter=METERS,
    repeat_due_at=OPTIONAL_INSTANTS,
    repeats=st.integers(0, 100),
)
ATTRIBUTES = st.dictionaries(
    st.text(max_size=8),
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    max_size=5,
)
STATES = st.builds(
    CaseState,
    status=st.sampled_from(Status),
    priority=NAMES,
    priority_reason=st.text(max_size=30),
    priority_override=st.none() | NAMES,
    queue=NAMES,
    assignee=st.none() | NAMES,
    attributes=ATTRIBUTES,
    opened_at=INSTANTS,
    updated_at=INSTANTS,
    stage=STAGES,
    clocks=st.lists(CLOCKS, max_size=4).map(tuple),
    resolved_at=OPTIONAL_INSTANTS,
    closed_at=OPTIONAL_INSTANTS,
    escalations=st.integers(0, 50),
    pause_until=OPTIONAL_INSTANTS,
)


@given(STATES, st.sampled_from([json.dumps, json_codec.dumps]))
def test_the_converter_reads_every_stored_state_as_the_field_by_field_definition(
    state: CaseState, encode: Callable[[Any], str]
) -> None:
    stored = json_codec.loads(encode(state_to_dict(state)))
    converted = msgspec.convert(stored, CaseState, strict=False)  # raises if the converter refused it
    assert converted == _state_from_fields(stored) == state == state_from_dict(stored)


@given(STATES, st.sampled_from([json.dumps, json_codec.dumps]))
def test_the_stored_text_decodes_straight_into_the_state_the_dict_path_gives(
    state: CaseState, encode: Callable[[Any], str]
) -> None:
    text = encode(state_to_dict(state))
    assert msgspec.json.decode(text, type=CaseState, strict=False) == state  # no fallback taken
    assert state_from_json(text) == state == state_from_dict(json_codec.loads(text))
    assert state_from_json(text.encode()) == state


def test_a_text_the_typed_decoder_refuses_reads_or_fails_as_the_dict_path() -> None:
    # A NaN token (the standard library wrote one before msgspec encoded the columns) in an
    # attribute: msgspec refuses the text, the standard parser reads it.
    stored = _stored(EVERY_FIELD)
    stored["attributes"]["score"] = float("nan")
    read = state_from_json(json.dumps(stored))
    assert read.clocks == EVERY_FIELD.clocks and read.attributes["score"] != read.attributes["score"]
    # A document without a field the definition needs fails as state_from_dict fails.
    del stored["stage"]["entered_at"]
    for read_it in (lambda: state_from_json(json.dumps(stored)), lambda: state_from_dict(stored)):
        with pytest.raises(KeyError) as error:
            read_it()
        assert error.value.args == ("entered_at",)


def test_a_document_the_converter_refuses_fails_as_the_definition_fails() -> None:
    stored = _stored(EVERY_FIELD)
    del stored["stage"]["entered_at"]
    try:
        state_from_dict(stored)
    except KeyError as error:
        assert error.args == ("entered_at",)
    else:
        raise AssertionError("a stage without entered_at was read")


@given(STATES)
def test_the_next_timer_is_the_earliest_pending_one(state: CaseState) -> None:
    # The sweep fires timers by ``next_timer`` (no sort); the listing and replay read them all.
    timers = state.pending_timers
    assert timers == sorted(timers)
    assert state.next_timer == (timers[0] if timers else None)
    assert state.next_deadline_at == (timers[0][0] if timers else None)
