"""Simulation parity: POST /v1/policies/{id}/simulate answers exactly what
``lifeline policies simulate --format json`` prints for the same policy and input, for the latest
version, a named ``version``, or a draft policy in the body (validated with pointers under /policy)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from casework.registry import policy_registry
from cli.main import app
from models.db import session_scope
from policies.loader import bundled_policies_dir, load_policy_file
from tests.api.conftest import ApiWorld
from tests.casework.builders import T0

POLICY_FILE = bundled_policies_dir() / "account_compromised.json"
CASE = {"opened_at": "2026-06-01T10:00:00Z", "attributes": {"creator": {"tier": "standard"}}}
ACTIONS = [
    {"at": "2026-06-01T12:05:00+02:00", "action": "reply", "message": "On it"},
    {"at": "2026-06-01T10:30:00Z", "action": "creator_replied", "actor": "creator"},
    {"at": "2026-06-01T11:00:00Z", "action": "request_info", "until": "2026-06-01T15:00:00Z"},
]
UNTIL = "2026-06-02T10:00:00Z"


def _register(api: ApiWorld, document: dict[str, Any], tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    with session_scope(api.engine) as session:
        policy_registry.register_policies(session, [load_policy_file(path)], T0 - timedelta(days=1))


def _cli(tmp_path: Path, policy_file: Path) -> dict[str, Any]:
    (tmp_path / "case.json").write_text(json.dumps(CASE))
    (tmp_path / "actions.json").write_text(json.dumps(ACTIONS))
    args = ["policies", "simulate", str(policy_file), "--case", str(tmp_path / "case.json")]
    args += ["--actions", str(tmp_path / "actions.json"), "--until", UNTIL, "--format", "json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def _api(api: ApiWorld, **extra: Any) -> dict[str, Any]:
    body = {"case": CASE, "actions": ACTIONS, "until": UNTIL, **extra}
    response = api.post("/v1/policies/account-compromised/simulate", json=body)
    assert response.status_code == 200, response.text
    parsed: dict[str, Any] = response.json()
    return parsed


def test_the_api_answers_what_the_cli_prints(api: ApiWorld, tmp_path: Path) -> None:
    document = json.loads(POLICY_FILE.read_text(encoding="utf-8"))
    _register(api, document, tmp_path, "account_compromised.json")
    printed = _cli(tmp_path, POLICY_FILE)

    latest = _api(api)
    draft = _api(api, policy=document)

    assert draft == printed  # a draft is not registered: version null, like a file
    assert latest == {**printed, "policy": {"id": "account-compromised", "version": 1}}
    assert all(e["at"].endswith("Z") for e in printed["timeline"])  # instants in UTC, local beside
    kinds = {(e["kind"], e.get("clock")) for e in printed["timeline"]}
    assert {("pause_expired", None), ("clock_started", "next_reply"), ("replied", None)} <= kinds
    assert set(printed) == {
        "policy", "timezone", "until", "timeline", "final_status", "final_stage", "final_priority", "clocks"
    }  # fmt: skip


def test_a_named_version_is_simulated_not_the_latest(api: ApiWorld, tmp_path: Path) -> None:
    document = json.loads(POLICY_FILE.read_text(encoding="utf-8"))
    _register(api, document, tmp_path, "v1.json")
    faster = json.loads(json.dumps(document))
    faster["clocks"]["resolution"]["target"]["P1"] = "PT4H"
    _register(api, faster, tmp_path, "v2.json")

    first = _api(api, version=1)
    latest = _api(api)

    assert first["policy"]["version"] == 1 and latest["policy"]["version"] == 2
    resolution = {
        r["policy"]["version"]: next(c for c in r["clocks"] if c["name"] == "resolution")
        for r in (first, latest)
    }
    assert resolution[1]["target"] == "PT8H" and resolution[2]["target"] == "PT4H"


def test_an_unknown_version_is_404(api: ApiWorld, tmp_path: Path) -> None:
    _register(api, json.loads(POLICY_FILE.read_text(encoding="utf-8")), tmp_path, "v1.json")
    response = api.post("/v1/policies/account-compromised/simulate", json={"case": CASE, "version": 7})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_a_bad_draft_reports_schema_and_lint_errors_at_once_under_policy(api: ApiWorld) -> None:
    document = json.loads(POLICY_FILE.read_text(encoding="utf-8"))
    document["calendar"] = "mars-office"
    document["clocks"]["resolution"]["warn_at"] = 2
    response = api.post("/v1/policies/account-compromised/simulate", json={"case": CASE, "policy": document})
    assert response.status_code == 422
    pointers = [e["pointer"] for e in response.json()["errors"]]
    assert pointers == ["/policy/calendar", "/policy/clocks/resolution/warn_at"]


def test_a_draft_of_another_policy_or_with_a_version_is_refused(api: ApiWorld) -> None:
    document = json.loads(POLICY_FILE.read_text(encoding="utf-8"))
    other = {**document, "id": "something-else"}
    response = api.post("/v1/policies/account-compromised/simulate", json={"case": CASE, "policy": other})
    assert response.status_code == 422 and [e["pointer"] for e in response.json()["errors"]] == ["/policy/id"]
    both = {"case": CASE, "policy": document, "version": 1}
    response = api.post("/v1/policies/account-compromised/simulate", json=both)
    assert response.status_code == 422 and [e["pointer"] for e in response.json()["errors"]] == ["/version"]
