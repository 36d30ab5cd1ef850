"""Policies: registered versions (read by everyone), validation and simulation (policy authors).

Registering stays a deliberate, versioned act on the command line (`lifeline policies apply`), so
a policy's history follows its files under version control.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response

from api.bodies import (
    Diagnostic,
    PolicyDetail,
    PolicySummary,
    PolicyVersionView,
    SimulateRequest,
    ValidationReport,
)
from api.checked_input import CheckedRoute, require_parsed
from api.deps import PROBLEMS, EngineDep, PolicyAuthor, PolicyId, Reader, Simulator
from api.problems import validation_problem
from casework.queries.simulation_view import SIMULATION_VIEW, SimulationView, simulation_view
from casework.registry import policy_queries, policy_registry
from casework.registry.policy_validation import check_draft, validate_document
from models.db import session_scope
from policies.model import Policy
from sla_engine.business_time import BusinessCalendar
from sla_engine.simulation import (
    SimulationInputError,
    opening_status,
    parse_actions,
    parse_case,
    simulate,
)

router = APIRouter(prefix="/v1/policies", tags=["policies"], route_class=CheckedRoute)

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such registered policy"}}


@router.get("", response_model=list[PolicySummary], summary="Registered policies", responses=PROBLEMS)
def list_policies(holder: Reader, engine: EngineDep) -> list[PolicySummary]:
    """Each registered policy at its latest version, with its count of open cases (all versions)."""
    with session_scope(engine, write=False) as session:
        versions = policy_registry.list_versions(session)
    open_cases: dict[str, int] = {}
    for v in versions:
        open_cases[v.policy_id] = open_cases.get(v.policy_id, 0) + v.open_cases
    return [
        PolicySummary(
            id=v.policy_id,
            title=v.title,
            incident_type=v.incident_type,
            latest_version=v.version,
            sha256=v.sha256,
            registered_at=v.registered_at,
            open_cases=open_cases[v.policy_id],
            retired=v.retired_at is not None,
            retired_at=v.retired_at,
        )
        for v in versions
        if v.latest
    ]


@router.get(
    "/{policy_id}",
    response_model=PolicyDetail,
    summary="A policy and its versions",
    responses={**PROBLEMS, **NOT_FOUND},
)
def get_policy(
    policy_id: PolicyId,
    holder: Reader,
    engine: EngineDep,
    version: Annotated[
        int | None, Query(ge=1, description="Show this version's document (default latest)")
    ] = None,
) -> PolicyDetail:
    with session_scope(engine, write=False) as session:
        versions = policy_queries.policy_versions(session, policy_id)
    latest = versions[-1]
    shown = latest if version is None else next((v for v in versions if v.version == version), None)
    if shown is None:
        from casework.errors import PolicyNotRegistered

        raise PolicyNotRegistered(f"policy {policy_id!r} version {version}")
    return PolicyDetail(
        id=policy_id,
        title=latest.title,
        incident_type=latest.incident_type,
        latest_version=latest.version,
        version=shown.version,
        document=shown.document,
        versions=[
            PolicyVersionView(
                version=v.version,
                sha256=v.sha256,
                title=v.title,
                registered_at=v.registered_at,
                open_cases=v.open_cases,
                latest=v is latest,
            )
            for v in versions
        ],
    )


@router.post(
    "/validate",
    response_model=ValidationReport,
    summary="Validate a policy document",
    responses={**PROBLEMS, 422: {"description": "The policy is invalid: `errors` has JSON pointers"}},
)
def validate(document: Annotated[Any, Body()], holder: PolicyAuthor, request: Request) -> ValidationReport:
    """Schema first (each error with its JSON pointer), then the semantic lint. A valid policy
    answers 200 with any warnings; an invalid one 422 problem+json with ``errors`` and ``warnings``."""
    report = validate_document(require_parsed(document, request))
    if report.errors:
        problem = validation_problem(
            [{"pointer": d.pointer, "message": d.message} for d in report.errors],
            f"the policy has {len(report.errors)} error(s); first at {report.errors[0].pointer or '/'}: "
            f"{report.errors[0].message}",
        )
        problem.extra["warnings"] = [{"pointer": d.pointer, "message": d.message} for d in report.warnings]
        raise problem
    return ValidationReport(
        valid=True,
        errors=[],
        warnings=[
            Diagnostic(pointer=d.pointer, message=d.message, severity="warning") for d in report.warnings
        ],
    )


def _prefixed(prefix: str, err: SimulationInputError) -> SimulationInputError:
    return SimulationInputError(prefix + err.pointer, err.message)


@router.post(
    "/{policy_id}/simulate",
    response_model=SimulationView,
    summary="Simulate a policy on a case",
    responses={**PROBLEMS, **NOT_FOUND},
)
def simulate_policy(
    policy_id: PolicyId, request: Annotated[SimulateRequest, Body()], holder: Simulator, engine: EngineDep
) -> Response:
    """What a version of the policy (the latest, ``version``, or a draft document in ``policy``)
    would do to ``case`` given timed agent ``actions``: the timeline of deadlines, warnings,
    breaches, escalations and notifications, exactly as ``lifeline policies simulate --format json``
    shows it. Writes nothing."""
    try:
        opened_at, attributes = parse_case(request.case)
        status = opening_status(request.case)
    except SimulationInputError as err:
        raise _prefixed("/case", err) from None
    try:
        actions = parse_actions(request.actions)
    except SimulationInputError as err:
        raise _prefixed("/actions", err) from None
    until = request.until
    policy, calendar, version = _policy_to_simulate(engine, policy_id, request)
    try:
        result = simulate(policy, calendar, opened_at, attributes, actions, until, status)
    except SimulationInputError as err:
        raise _prefixed("/actions", err) from None
    view = simulation_view(policy, calendar, result, version)
    return Response(SIMULATION_VIEW.dump_json(view), media_type="application/json")


def _policy_to_simulate(
    engine: Any, policy_id: str, request: SimulateRequest
) -> tuple[Policy, BusinessCalendar, int | None]:
    """The draft in the body (refused with pointers under /policy when invalid or for another id),
    else the requested or latest registered version."""
    if request.policy is None:
        with session_scope(engine, write=False) as session:
            if request.version is None:
                version = policy_registry.latest_registered(session, policy_id).version
            else:
                version = request.version
            policy, calendar = policy_registry.get_policy(session, policy_id, version)
        return policy, calendar, version
    if request.version is not None:
        raise validation_problem(
            [{"pointer": "/version", "message": "give a version or a draft policy, not both"}],
            "give a version or a draft policy, not both",
        )
    draft, report = check_draft(request.policy)
    errors = [{"pointer": "/policy" + d.pointer, "message": d.message} for d in report.errors]
    if draft is not None and draft.id != policy_id:
        errors.append(
            {"pointer": "/policy/id", "message": f"the draft is policy {draft.id!r}, not {policy_id!r}"}
        )
    if errors or draft is None:
        raise validation_problem(
            errors, f"the draft policy has {len(errors)} error(s); first at {errors[0]['pointer']}"
        )
    return draft, policy_registry.business_calendar(draft.calendar), None
