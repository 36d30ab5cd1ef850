"""Policies (/console/policies, /console/policies/{id}; admins, read-only for auditors): every
registered policy with its versions, a side-by-side diff of two versions' documents, and (admins)
a simulate form: a case and timed actions in, the timeline out as a table and an SVG time axis.
Simulating writes nothing; it still posts a form (with its CSRF token) since the inputs are JSON."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import Response

from casework.errors import CaseworkError
from casework.queries.simulation_view import simulation_view
from casework.registry import policy_queries, policy_registry
from console import auth
from console.auth import ConsoleUser
from console.charts import time_axis
from console.messages import console_message
from console.pages import iso_z, render
from models.db import session_scope
from models.kinds import Role
from sla_engine.simulation import SimulationInputError, parse_actions, parse_case, simulate

router = APIRouter(prefix="/console/policies", include_in_schema=False)

POLICY_READERS = (Role.ADMIN, Role.AUDITOR)
SIMULATORS = (Role.ADMIN,)
Reader = Annotated[ConsoleUser, Depends(auth.require(*POLICY_READERS))]
Simulator = Annotated[ConsoleUser, Depends(auth.require(*SIMULATORS))]
PolicyId = Annotated[str, Path(max_length=100)]
#: Timeline rows a page shows (a case left open repeats its last stage's notifications for 90 days).
MAX_TIMELINE = 300


@dataclass(frozen=True)
class DiffRow:
    left_no: int | None
    left: str
    right_no: int | None
    right: str
    tag: str  # equal, changed, removed, added


def side_by_side(left: str, right: str) -> list[DiffRow]:
    """The two texts line by line, aligned, each row tagged with how it changed."""
    a, b = left.splitlines(), right.splitlines()
    rows: list[DiffRow] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        for k in range(max(i2 - i1, j2 - j1)):
            li, rj = i1 + k, j1 + k
            has_left, has_right = li < i2, rj < j2
            kind = {"equal": "equal", "replace": "changed", "delete": "removed", "insert": "added"}[tag]
            if tag == "replace" and not (has_left and has_right):
                kind = "removed" if has_left else "added"
            rows.append(
                DiffRow(
                    li + 1 if has_left else None,
                    a[li] if has_left else "",
                    rj + 1 if has_right else None,
                    b[rj] if has_right else "",
                    kind,
                )
            )
    return rows


def _document_text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)


@router.get("")
def policies(request: Request, user: Reader) -> Response:
    with session_scope(request.app.state.engine, write=False) as session:
        versions = policy_registry.list_versions(session)
    latest = [v for v in versions if v.latest]
    counts = {v.policy_id: sum(1 for w in versions if w.policy_id == v.policy_id) for v in latest}
    context = {"title": "Policies", "policies": latest, "counts": counts}
    return render(request, "console/policies.html", user, context)


def _detail(
    request: Request, user: ConsoleUser, policy_id: str, a: int | None, b: int | None
) -> dict[str, Any]:
    with session_scope(request.app.state.engine, write=False) as session:
        versions = policy_queries.policy_versions(session, policy_id)
    by_number = {v.version: v for v in versions}
    latest = versions[-1]
    context: dict[str, Any] = {
        "title": f"Policy {policy_id}",
        "policy_id": policy_id,
        "versions": versions,
        "latest": latest,
        "document": _document_text(latest.document),
        "a": a or (versions[-2].version if len(versions) > 1 else latest.version),
        "b": b or latest.version,
        "can_simulate": user.may(SIMULATORS),
        "sample_case": json.dumps(_sample_case(), indent=2),
        "sample_actions": json.dumps(_sample_actions(), indent=2),
    }
    if a is not None and b is not None:
        if a not in by_number or b not in by_number:
            context["error"] = f"Policy {policy_id} has versions {', '.join(map(str, by_number))}."
        else:
            left, right = by_number[a].document, by_number[b].document
            context["diff"] = side_by_side(_document_text(left), _document_text(right))
    return context


def _sample_case() -> dict[str, Any]:
    opened = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
    creator = {"handle": "@lunabakes", "platform": "youtube", "tier": "partner", "followers": 1_840_000}
    return {"opened_at": iso_z(opened), "attributes": {"creator": creator, "impact": {"monetized": True}}}


def _sample_actions() -> list[dict[str, Any]]:
    opened = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
    return [
        {"at": iso_z(opened + timedelta(minutes=40)), "action": "acknowledge"},
        {"at": iso_z(opened + timedelta(hours=7)), "action": "resolve"},
    ]


@router.get("/{policy_id}")
def policy(
    request: Request,
    user: Reader,
    policy_id: PolicyId,
    a: Annotated[int | None, Query(ge=1)] = None,
    b: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    try:
        context = _detail(request, user, policy_id, a, b)
    except CaseworkError as err:
        status, message = console_message(err) or (422, str(err))
        return render(request, "console/error.html", user, {"title": "Policy", "message": message}, status)
    return render(request, "console/policy.html", user, context, 400 if "error" in context else 200)


def _json_field(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as err:
        raise SimulationInputError(f"/{name}", f"not valid JSON: {err}") from None


@router.post("/{policy_id}/simulate")
def simulate_policy(
    request: Request,
    user: Simulator,
    policy_id: PolicyId,
    csrf: Annotated[str, Form(max_length=500)] = "",
    case: Annotated[str, Form(max_length=100_000)] = "",
    actions: Annotated[str, Form(max_length=100_000)] = "[]",
) -> Response:
    auth.check_csrf(request, user, csrf)
    try:
        context = _detail(request, user, policy_id, None, None)
    except CaseworkError as err:
        status, message = console_message(err) or (422, str(err))
        return render(request, "console/error.html", user, {"title": "Policy", "message": message}, status)
    context.update(sample_case=case, sample_actions=actions)
    try:
        opened_at, attributes = parse_case(_json_field(case, "case"))
        parsed = parse_actions(_json_field(actions, "actions"))
        with session_scope(request.app.state.engine, write=False) as session:
            pinned = policy_registry.latest_registered(session, policy_id)
            compiled, calendar = policy_registry.get_policy(session, pinned.policy_id, pinned.version)
        result = simulate(compiled, calendar, opened_at, attributes, parsed)
    except (SimulationInputError, CaseworkError) as err:
        status, message = console_message(err) or (422, str(err))
        return render(request, "console/policy.html", user, {**context, "sim_error": message}, status)
    view = simulation_view(compiled, calendar, result, pinned.version)
    shown = view["timeline"][:MAX_TIMELINE]
    context.update(
        view=view,
        timeline=shown,
        axis=time_axis([(entry["at"], entry["kind"], entry["detail"]) for entry in shown]),
        timeline_total=len(view["timeline"]),
    )
    return render(request, "console/policy.html", user, context)
