"""The loader as a caller meets it: syntax errors with line and column, the 1 MiB limit, remote $ref
never fetched, the lint's warnings, and the parsed objects."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from policies.diagnostics import PolicyError, Severity
from policies.documents import MAX_FILE_BYTES
from policies.durations import DurationError, format_duration, parse_duration
from policies.json_schemas import SchemaName, registry, schema, validate_with
from policies.loader import check_policy_file, check_policy_text, load_policy_file, parse_policy_text
from policies.model import AllOf, AnyOf, Compare, Not, Op
from tests.policies.conftest import policy_doc

WritePolicy = Callable[..., Path]


def warnings_of(doc: dict[str, Any], write_policy: WritePolicy) -> list[tuple[str, str]]:
    result = check_policy_file(write_policy(doc))
    assert result.errors == ()
    return [(d.pointer, d.message) for d in result.warnings]


def sample_text() -> str:
    return json.dumps(policy_doc())


def test_a_json_syntax_error_reports_line_and_column(write_policy: WritePolicy) -> None:
    path = write_policy({})
    path.write_text('{\n  "id": "x",\n  "title" "missing colon"\n}\n')
    (error,) = check_policy_file(path).errors
    assert error.pointer == ""
    assert "line 3, column 11" in error.message and "Expecting ':' delimiter" in error.message


def test_a_file_over_one_mebibyte_is_refused_before_parsing(write_policy: WritePolicy) -> None:
    path = write_policy({})
    path.write_text('{"title": "' + "x" * MAX_FILE_BYTES + '"}')
    (error,) = check_policy_file(path).errors
    assert "limit" in error.message and "1 MiB" in error.message


def test_a_file_of_exactly_one_mebibyte_is_read(write_policy: WritePolicy) -> None:
    path = write_policy({})
    path.write_text("[" + " " * (MAX_FILE_BYTES - 2) + "]")
    (error,) = check_policy_file(path).errors
    assert error.message == "expected an object, got an array"


def test_a_missing_file_is_a_diagnostic_not_a_traceback(tmp_path: Path) -> None:
    (error,) = check_policy_file(tmp_path / "nope.json").errors
    assert error.message.startswith("cannot read file")


class _CountingHandler(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802  (http.server's naming)
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"type": "object"}')

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def schema_server() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server that would serve a schema, recording every request it gets."""
    hits: list[str] = []
    handler = type("Handler", (_CountingHandler,), {"hits": hits})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/remote.schema.json", hits
    finally:
        server.shutdown()
        server.server_close()


def test_a_ref_in_a_policy_is_an_unknown_field_and_is_never_fetched(
    schema_server: tuple[str, list[str]], write_policy: WritePolicy
) -> None:
    url, hits = schema_server
    doc = policy_doc() | {"$ref": url}
    doc["stages"][0]["$ref"] = url
    errors = check_policy_file(write_policy(doc)).errors
    assert [e.pointer for e in errors] == ["/$ref", "/stages/0/$ref"]
    assert hits == []


def test_the_schema_registry_refuses_remote_refs_instead_of_fetching(
    schema_server: tuple[str, list[str]],
) -> None:
    url, hits = schema_server
    remote = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": url}
    (error,) = validate_with(Draft202012Validator(remote, registry=registry()), {}, "x.json")
    assert "remote references are never fetched" in error.message and url in error.message
    assert hits == []


def test_the_duration_grammar_is_the_same_in_the_schema_and_the_parser() -> None:
    from policies.durations import DURATION_PATTERN

    defs = schema(SchemaName.POLICY)["$defs"]
    assert defs["duration"]["pattern"] == DURATION_PATTERN == defs["target"]["pattern"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT15M", timedelta(minutes=15)),
        ("P1D", timedelta(days=1)),
        ("P2W", timedelta(weeks=2)),
        ("P1DT12H", timedelta(days=1, hours=12)),
        ("PT1H30M15S", timedelta(hours=1, minutes=30, seconds=15)),
        ("P1W2DT3S", timedelta(days=9, seconds=3)),
    ],
)
def test_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["P", "PT", "P1Y", "P1M", "PT1H\n", "1H", "P1.5D", "PT", "P1DT", "pt1h", "P5000W"]
)
def test_durations_refused(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


def test_format_duration_is_the_inverse_for_display() -> None:
    assert [format_duration(parse_duration(t)) for t in ("PT15M", "P1DT2H", "PT0S")] == [
        "PT15M",
        "P1DT2H",
        "PT0S",
    ]


def test_every_schema_error_is_reported_not_only_the_first(write_policy: WritePolicy) -> None:
    doc = policy_doc()
    doc["priority"]["default"] = "high"
    doc["clocks"]["first_response"]["target"]["P1"] = "15 minutes"
    doc["stages"][1]["queue"] = ""
    pointers = [e.pointer for e in check_policy_file(write_policy(doc)).errors]
    assert pointers == ["/clocks/first_response/target/P1", "/priority/default", "/stages/1/queue"]


def test_conditions_parse_into_the_model_with_immutable_values(write_policy: WritePolicy) -> None:
    doc = policy_doc()
    doc["priority"]["rules"] = [
        {
            "if": {
                "all": [
                    {"any": [{"field": "creator.tier", "op": "in", "value": ["partner", "top"]}]},
                    {"not": {"field": "impact.monetized", "op": "exists", "value": True}},
                    {"field": "impact.next_sponsored_post_at", "op": "within", "value": "PT6H"},
                ]
            },
            "then": "P1",
            "description": "why",
        }
    ]
    policy = load_policy_file(write_policy(doc))
    rule = policy.priority.rules[0]
    assert rule.description == "why" and rule.index == 0 and rule.then == "P1"
    assert rule.condition == AllOf(
        (
            AnyOf((Compare("creator.tier", Op.IN, ("partner", "top")),)),
            Not(Compare("impact.monetized", Op.EXISTS, True)),
            Compare("impact.next_sponsored_post_at", Op.WITHIN, timedelta(hours=6)),
        )
    )
    hash(rule.condition)  # frozen all the way down: a parsed policy can be cached and shared


def test_clocks_and_stages_parse_into_the_model(write_policy: WritePolicy) -> None:
    policy = load_policy_file(write_policy(policy_doc()))
    first, resolution = policy.clocks
    assert first.target.for_priority("P2") == timedelta(hours=1) and first.warn_at == 0.75
    assert resolution.target.for_priority("P7") == timedelta(days=1)
    assert resolution.not_after is not None and resolution.not_after.margin == timedelta(hours=2)
    assert resolution.pauses_on == frozenset({"waiting_on_creator"})
    assert (
        policy.stages[0].pauses_on is None and policy.stage_pauses(policy.stages[0]) == resolution.pauses_on
    )
    assert policy.stages[1].escalate_after is None
    assert policy.supports_priority("P1") and not policy.supports_priority("P3")


def test_load_policy_file_raises_policy_error_with_every_diagnostic(write_policy: WritePolicy) -> None:
    doc = policy_doc()
    doc["calendar"] = "nowhere"
    doc["stages"][1]["id"] = "frontline"
    with pytest.raises(PolicyError) as raised:
        load_policy_file(write_policy(doc))
    assert [d.pointer for d in raised.value.diagnostics] == ["/calendar", "/stages/1/id"]
    assert "unknown calendar 'nowhere'" in str(raised.value)


def test_parse_policy_text_accepts_a_canonical_document() -> None:
    policy = parse_policy_text(sample_text(), "stored")
    assert policy.id == "sample"
    assert parse_policy_text(policy.canonical_json, "again").sha256 == policy.sha256


def test_unknown_channels_are_errors_only_when_channels_are_known() -> None:
    text = sample_text()
    assert check_policy_text(text, "p.json").ok
    (error,) = check_policy_text(text, "p.json", channels={"support-leads"}).errors
    assert error.pointer == "/stages/1/on_enter/0/notify"
    assert error.message == "unknown channel 'tns-leads' (the channels file defines: support-leads)"


def test_stages_after_one_without_escalate_after_are_reachable_only_by_hand(
    write_policy: WritePolicy,
) -> None:
    doc = policy_doc()
    doc["stages"].append({"id": "partners", "queue": "partner-managers"})
    assert warnings_of(doc, write_policy) == [
        (
            "/stages/2",
            "stage 'partners' is reachable only by manual escalation: "
            "the stage before it has no escalate_after",
        )
    ]


def test_escalate_after_on_the_last_stage_is_a_warning(write_policy: WritePolicy) -> None:
    doc = policy_doc()
    doc["stages"][1]["escalate_after"] = "PT4H"
    ((pointer, message),) = warnings_of(doc, write_policy)
    assert pointer == "/stages/1/escalate_after" and "no next stage" in message


def test_repeat_notify_every_warnings(write_policy: WritePolicy) -> None:
    doc = policy_doc()
    doc["stages"][0]["repeat_notify_every"] = "PT1H"
    doc["stages"][1] = {"id": "leads", "queue": "tns-leads", "repeat_notify_every": "PT2H"}
    assert warnings_of(doc, write_policy) == [
        (
            "/stages/0/repeat_notify_every",
            "only the last stage repeats its notifications; this value is never used",
        ),
        ("/stages/1/repeat_notify_every", "nothing to repeat: this stage's on_enter has no notify action"),
    ]


def test_duplicate_and_shadowed_priority_rules_are_warnings(write_policy: WritePolicy) -> None:
    doc = policy_doc()
    rule = doc["priority"]["rules"][0]
    doc["priority"]["rules"] = [
        rule,
        dict(rule),
        dict(rule, then="P2"),
        {"if": rule["if"] | {"op": "ne"}, "then": "P1"},
    ]
    assert warnings_of(doc, write_policy) == [
        ("/priority/rules/1", "this rule duplicates /priority/rules/0, which comes first"),
        (
            "/priority/rules/2",
            "this rule can never win: it has the same condition as /priority/rules/0, which comes first",
        ),
    ]


def test_a_trailing_rule_giving_the_default_priority_has_no_effect(write_policy: WritePolicy) -> None:
    doc = policy_doc()
    doc["priority"]["rules"].append(
        {"if": {"field": "creator.tier", "op": "eq", "value": "new"}, "then": "P2"}
    )
    assert warnings_of(doc, write_policy) == [
        ("/priority/rules/1", "this rule has no effect: it gives the default priority P2")
    ]


def test_pointless_clock_statuses_are_warnings(write_policy: WritePolicy) -> None:
    doc = policy_doc()
    doc["clocks"]["resolution"]["pauses_on"] = ["resolved", "closed"]
    doc["clocks"]["first_response"] |= {"stops_on": ["open", "in_progress"], "pauses_on": ["in_progress"]}
    found = warnings_of(doc, write_policy)
    assert [p for p, _ in found] == [
        "/clocks/first_response/pauses_on/0",
        "/clocks/first_response/stops_on/0",
        "/clocks/resolution/pauses_on/0",
        "/clocks/resolution/pauses_on/1",
    ]
    assert all(d.severity is Severity.WARNING for d in check_policy_file(write_policy(doc)).diagnostics)


def test_zero_durations_are_refused_wherever_they_appear_except_margins(write_policy: WritePolicy) -> None:
    doc = policy_doc()
    doc["clocks"]["first_response"]["target"]["P2"] = "PT0S"
    doc["clocks"]["resolution"]["not_after"]["margin"] = "PT0S"
    doc["stages"][1]["repeat_notify_every"] = "P0D"
    doc["priority"]["rules"][0]["if"] = {
        "field": "impact.next_sponsored_post_at",
        "op": "within",
        "value": "PT0M",
    }
    pointers = [e.pointer for e in check_policy_file(write_policy(doc)).errors]
    assert pointers == [
        "/clocks/first_response/target/P2",
        "/stages/1/repeat_notify_every",
        "/priority/rules/0/if/value",
    ]
