"""Property: any document the policy schema accepts either loads or yields lint errors, never an
exception. Documents come from hypothesis-jsonschema, driven by the real schema.

hypothesis-jsonschema cannot follow recursive references, so the recursive ``condition`` definition
is unrolled to a fixed depth (one level of combinators over plain comparisons), and written as an
``anyOf`` of its shapes rather than the schema's ``if``/``then`` chain (same language, but fast to
generate from). The test re-checks every document against the real schema first.
"""

from __future__ import annotations

import copy
import json
import os
import re
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis_jsonschema import from_schema

from policies.durations import DURATION_PATTERN
from policies.json_schemas import SchemaName, schema, validate
from policies.loader import check_policy_document
from policies.model import ALWAYS
from tests.policies import jsonschema_compat

jsonschema_compat.install()

CONDITION = "#/$defs/condition"
#: Each document costs about a second to generate (hypothesis-jsonschema merges subschemas on every
#: draw), nearly all of this test's time: the derandomized CI profile checks a fixed 20 documents;
#: HYPOTHESIS_PROFILE=long checks 500 fresh ones.
EXAMPLES = 500 if os.environ.get("HYPOTHESIS_PROFILE") == "long" else 20
PROPERTY_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _replace_refs(node: Any, old: str, new: str) -> Any:
    if isinstance(node, dict):
        return {k: (new if k == "$ref" and v == old else _replace_refs(v, old, new)) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace_refs(v, old, new) for v in node]
    return node


def _branch_form(recursive: dict[str, Any]) -> dict[str, Any]:
    """The condition definition as an ``anyOf`` of its eight shapes, equivalent to the schema's
    ``if``/``then``/``else`` form (which hypothesis-jsonschema canonicalises exponentially slowly)."""
    props = recursive["properties"]

    def shape(required: list[str], **properties: Any) -> dict[str, Any]:
        return {
            "type": "object",
            "additionalProperties": False,
            "required": required,
            "properties": properties,
        }

    def compare(ops: list[str], value: Any, needs_value: bool = True) -> dict[str, Any]:
        required = ["field", "op", "value"] if needs_value else ["field", "op"]
        return shape(required, field=props["field"], op={"enum": ops}, value=value)

    return {
        "anyOf": [
            shape(["all"], all=props["all"]),
            shape(["any"], any=props["any"]),
            shape(["not"], **{"not": props["not"]}),
            compare(["in", "not_in"], {"type": "array", "minItems": 1}),
            compare(["within"], {"$ref": "#/$defs/duration"}),
            compare(["exists"], {"type": "boolean"}, needs_value=False),
            compare(["gt", "gte", "lt", "lte"], {"type": ["number", "string"]}),
            compare(["eq", "ne"], True),
        ]
    }


def generator_schema(depth: int = 2) -> dict[str, Any]:
    """The policy schema with ``condition`` in branch form, unrolled ``depth`` levels deep."""
    doc = copy.deepcopy(dict(schema(SchemaName.POLICY)))
    defs = doc["$defs"]
    recursive = _branch_form(defs.pop("condition"))
    defs["condition_0"] = {"anyOf": recursive["anyOf"][3:]}  # comparisons only
    for level in range(1, depth + 1):
        defs[f"condition_{level}"] = _replace_refs(recursive, CONDITION, f"#/$defs/condition_{level - 1}")
    return _replace_refs(doc, CONDITION, f"#/$defs/condition_{depth}")


def _sane_durations(node: Any) -> Any:
    """Every duration value replaced by PT1H: random ones are mostly zero or longer than ten years."""
    if isinstance(node, dict):
        return {k: _sane_durations(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_sane_durations(v) for v in node]
    if isinstance(node, str) and re.fullmatch(DURATION_PATTERN.strip("^$"), node):
        return "PT1H"
    return node


def repaired(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with sane durations, every target map covering P0..P9 and unique stage ids, so that
    the build path is exercised too (random documents nearly always miss a priority somewhere)."""
    fixed = _sane_durations(doc)
    every = {f"P{n}": "PT1H" for n in range(10)}
    for clock in fixed["clocks"].values():
        if isinstance(clock["target"], dict):
            clock["target"] = every | clock["target"]
    for index, stage in enumerate(fixed["stages"]):
        stage["id"] = f"{stage['id'][:50]}-{index}"
        if isinstance(stage.get("escalate_after"), dict):
            stage["escalate_after"] = every | stage["escalate_after"]
    return fixed


def assert_loads_or_refuses(doc: dict[str, Any]) -> None:
    assert validate(doc, SchemaName.POLICY, "generated.json") == []
    for calendars in ({"always": ALWAYS}, {doc["calendar"]: replace(ALWAYS, name=doc["calendar"])}):
        result = check_policy_document(doc, "generated.json", calendars, channels={"support-leads"})
        if result.value is None:
            assert result.errors, "refused without an error"
            assert all(e.file == "generated.json" and e.message for e in result.errors)
        else:
            assert not result.errors
            policy = result.value
            assert json.loads(policy.canonical_json) == doc
            assert len(policy.stages) == len(doc["stages"]) and len(policy.clocks) == len(doc["clocks"])
            assert all(policy.supports_priority(r.then) for r in policy.priority.rules)


@PROPERTY_SETTINGS
@given(from_schema(generator_schema(depth=1)))
def test_any_schema_valid_policy_loads_or_yields_lint_errors(doc: dict[str, Any]) -> None:
    assert_loads_or_refuses(doc)
    assert_loads_or_refuses(repaired(doc))
