"""Cases: open (idempotent), list by nearest deadline, read with every clock, act, read history.

Each route owns its transaction (``session_scope``) around the service calls; domain errors rise to
api.problems. Writes happen at the app clock's ``now``.

Routes build their response model once and return its JSON (``_json``): FastAPI would otherwise
dump the returned model, validate it again against ``response_model`` (in the thread pool, for a
sync route) and serialise it, which cost more than the route's queries. The bytes are the same
(Pydantic's serialiser either way); ``response_model`` still documents the body in /docs.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session

from api.bodies import OPENED_CASE_VIEW, CaseAction, CaseCreate, EventView, OpenedCaseView, Page
from api.checked_input import CheckedRoute, Instant
from api.deps import PROBLEMS, CaseId, CaseWriter, EngineDep, NowDep, Reader
from api.headers import public_url
from api.listing import list_response, query_words
from api.problems import Problem, validation_problem
from api.reads import short_read
from casework.cases import idempotency
from casework.cases import lifecycle as cases
from casework.cases.assignees import listing_assignee
from casework.creator import links
from casework.errors import IdempotencyRace, PolicyNotRegistered
from casework.history.case_changes import CaseChange
from casework.links.listing import empty_links
from casework.queries import case_queries, case_read
from casework.queries.case_queries import CaseFilters
from casework.queries.case_view import (
    CASE_VIEW,
    CaseBrief,
    CaseView,
    ViewedCase,
    case_view,
)
from casework.queries.pagination import MAX_PAGE
from casework.search.conditions import MAX_QUERY
from models.db import session_scope, single_read
from sla_engine.kinds import Status

router = APIRouter(prefix="/v1/cases", tags=["cases"], route_class=CheckedRoute)

_TAG = r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"'  # RFC 9110 entity-tag
_ENTITY_TAG = re.compile(r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"')
#: A list of entity tags; an empty one is well-formed and matches nothing.
_IF_MATCH_LIST = re.compile(rf"\s*(?:{_TAG}(?:\s*,\s*{_TAG})*)?\s*")
_VERSION = re.compile(r"[1-9]\d{0,17}")
#: If-Match as the document states it (the route gives bad syntax a 400 problem of its own).
_IF_MATCH_PATTERN = rf"^(?:\s*\*\s*|{_IF_MATCH_LIST.pattern})$"


def _view(session: Session, case: ViewedCase, now: Any, breached: bool | None = None) -> CaseView:
    """The case's view; ``breached`` when the caller knows it, else it is queried."""
    if breached is None:
        breached = bool(case_queries.breached_case_ids(session, [case.id]))
    return case_view(session, case, now, breached)


def _opened_view(session: Session, change: CaseChange, now: Any) -> CaseView:
    """The view of a case opened in this transaction: breached iff its opening wrote a breach, its
    pinned version's hash known, and no linked cases yet (nothing links to an id just made)."""
    return case_view(session, change.case, now, bool(change.breaches), change.policy_sha256, empty_links())


def _json(model: BaseModel, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """``model`` as the JSON response FastAPI would have sent for it (see module docstring)."""
    return Response(model.model_dump_json(), status_code, headers, media_type="application/json")


def _view_json(view: CaseView, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(CASE_VIEW.dump_json(view), status_code, headers, media_type="application/json")


def _parse_if_match(value: str | None) -> frozenset[int] | None:
    """The case versions an If-Match admits: None for no header or ``*`` (any version of an
    existing case), else the versions of its strong entity tags. A weak tag (``W/"2"``) or one
    that is no version of ours never matches (an empty set: 412). Only bad syntax is 400."""
    if value is None or value.strip() == "*":
        return None
    if _IF_MATCH_LIST.fullmatch(value) is None:
        raise Problem(
            400,
            "bad-request",
            "Bad If-Match header",
            f'If-Match must be entity tags such as "3" (the case\'s ETag) or * (got {value!r})',
            errors=[{"parameter": "If-Match", "in": "header", "message": "expected quoted entity tags"}],
        )
    return frozenset(
        int(tag) for weak, tag in _ENTITY_TAG.findall(value) if not weak and _VERSION.fullmatch(tag)
    )


@router.post(
    "",
    status_code=201,
    response_model=OpenedCaseView,
    summary="Open a case",
    responses={
        **PROBLEMS,
        200: {"description": "A retry with the same Idempotency-Key and body: the case it opened"},
    },
)
def open_case(
    body: CaseCreate,
    holder: CaseWriter,
    engine: EngineDep,
    now: NowDep,
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Retry-safe key (e.g. a UUID): the same key and body give the same case for 24 h",
            pattern=r"^[\x21-\x7e](?:[\x20-\x7e]{0,198}[\x21-\x7e])?$",
        ),
    ] = None,
) -> Response:
    """Open a case under the latest registered version of its policy. The case starts in stage 0
    with every clock running; its priority comes from the policy's rules over ``attributes``.
    ``creator_link`` is the creator's status page, given this once."""
    payload = body.model_dump(mode="json", exclude_unset=True)
    stored_key = idempotency.scoped_key(holder.id, idempotency_key) if idempotency_key is not None else None
    fingerprint = idempotency.fingerprint(payload)
    for attempt in (1, 2):
        try:
            view, replayed = _open_once(engine, body, payload, holder.actor, now, stored_key, fingerprint)
            break
        except IdempotencyRace:
            if attempt == 2:
                raise
    headers = {
        "ETag": f'"{view["version"]}"',
        "Location": public_url(request.app.url_path_for("get_case", case_id=view["id"])),
    }
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    body_json = OPENED_CASE_VIEW.dump_json(view)
    return Response(body_json, 200 if replayed else 201, headers, media_type="application/json")


def _open_once(
    engine: EngineDep,
    body: CaseCreate,
    payload: dict[str, Any],
    actor: str,
    now: NowDep,
    stored_key: str | None,
    fingerprint: str,
) -> tuple[OpenedCaseView, bool]:
    with session_scope(engine) as session:
        if stored_key is not None:
            existing = idempotency.find(session, stored_key, fingerprint, now)
            if existing is not None:
                found = _view(session, case_queries.get_case(session, existing), now)
                return OpenedCaseView(**found, creator_link=None), True
        try:
            change = cases.open_case(
                session,
                attributes=payload.get("attributes", {}),
                actor=actor,
                now=now,
                incident_type=body.incident_type,
                policy_id=body.policy_id,
                opened_at=body.opened_at,
                status=Status(body.status),
            )
        except PolicyNotRegistered as err:
            # Bad input here, not a missing resource: point at the field that named the policy.
            pointer = "/policy_id" if body.policy_id is not None else "/incident_type"
            raise validation_problem([{"pointer": pointer, "message": str(err)}], str(err)) from None
        if stored_key is not None:
            idempotency.remember(session, stored_key, fingerprint, change.case.id, now)
        link = links.status_url(links.first_link(session, change.case.id, now))
        view = _opened_view(session, change, now)
        return OpenedCaseView(**view, creator_link=link), False


@router.get("", response_model=Page[CaseBrief], summary="List cases by nearest deadline", responses=PROBLEMS)
async def list_cases(
    holder: Reader,
    request: Request,
    status: Annotated[list[Status] | None, Query(description="Repeat for several")] = None,
    incident_type: Annotated[str | None, Query(max_length=100)] = None,
    queue: Annotated[str | None, Query(max_length=100)] = None,
    priority: Annotated[str | None, Query(max_length=20)] = None,
    assignee: Annotated[str | None, Query(max_length=200, description="An agent's name, or `me`")] = None,
    breached: Annotated[
        bool | None, Query(description="Only cases with (true) or without (false) a breach")
    ] = None,
    due_before: Annotated[Instant | None, Query(description="next_deadline_at before this instant")] = None,
    creator: Annotated[str | None, Query(max_length=200, description="attributes.creator.id")] = None,
    handle: Annotated[str | None, Query(max_length=200, description="attributes.creator.handle")] = None,
    q: Annotated[
        str | None,
        Query(max_length=MAX_QUERY, description="Words all found in the summary or one public reply"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=500, description="From a previous page's `next`")] = None,
) -> Response:
    """Cases matching every filter, ordered by ``next_deadline_at`` (nothing pending last), then id.
    Follow ``next`` for the following page; it keeps the filters. ``q`` searches the summary and
    the public replies (every word, case and accents ignored); unknown parameters are a 422."""
    filters = CaseFilters(
        creator=creator,
        handle=handle,
        q=query_words(q),
        status=status or (),
        incident_type=incident_type,
        queue=queue,
        priority=priority,
        assignee=listing_assignee(assignee, holder.actor),
        breached=breached,
        due_before=due_before,
    )
    engine: Engine = request.app.state.engine  # as EngineDep, without a dependency to solve
    now: datetime = request.app.state.clock()  # as NowDep, likewise
    return await short_read(engine, list_response, engine, request, filters, limit, cursor, now)


@router.get(
    "/{case_id}",
    response_model=CaseView,
    summary="A case with every clock",
    responses={**PROBLEMS, 404: {"description": "No such case"}},
)
async def get_case(case_id: CaseId, holder: Reader, request: Request, now: NowDep) -> Response:
    """The case now: each clock's target, deadline (UTC and local), remaining working time, state and
    breach; the stage and when it escalates; the priority and why. ``ETag`` is the case version:
    send it back as ``If-Match`` on actions."""
    engine: Engine = request.app.state.engine  # as EngineDep, without a dependency to solve
    return await short_read(engine, _case_response, engine, case_id, now)


def _case_response(engine: Engine, case_id: str, now: datetime) -> Response:
    with single_read(engine) as connection:
        read = case_read.read_case(connection, case_id)
        # A second statement only if the policy version is not parsed yet (immutable rows), and
        # the linked cases' if it has any (see models.db.single_read): on the connection.
        links = None if read.linked else empty_links()
        view = case_view(connection, read.case, now, read.breached, read.policy_sha256, links)
    return _view_json(view, headers={"ETag": f'"{read.case.version}"'})


@router.post(
    "/{case_id}/actions",
    response_model=CaseView,
    summary="Act on a case",
    responses={
        **PROBLEMS,
        404: {"description": "No such case"},
        409: {"description": "The state machine forbids this action now (from/to states named)"},
        412: {"description": "If-Match is stale: the body has the current version"},
    },
)
def act(
    case_id: CaseId,
    action: Annotated[CaseAction, Body(discriminator="action")],
    holder: CaseWriter,
    engine: EngineDep,
    now: NowDep,
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description='The ETag you read, e.g. "3", or *: 412 if the case moved on (or the tag is weak)',
            json_schema_extra={"pattern": _IF_MATCH_PATTERN},  # documented; bad syntax is our 400
        ),
    ] = None,
) -> Response:
    """Apply an agent action: ``{"action": "acknowledge"}``, ``{"action": "note", "text": ...}``...
    Deadlines that passed before now are applied first (as the worker would)."""
    expected = _parse_if_match(if_match)
    args = action.model_dump(mode="json", exclude_unset=True, exclude={"action"})
    with session_scope(engine) as session:
        change = cases.apply_action(session, case_id, action.action, args, holder.actor, now, expected)
        view = _view(session, change.case, now, True if change.breaches else None)
    return _view_json(view, headers={"ETag": f'"{view["version"]}"'})


@router.get(
    "/{case_id}/events",
    response_model=Page[EventView],
    summary="A case's history",
    responses={**PROBLEMS, 404: {"description": "No such case"}},
)
def list_events(
    case_id: CaseId,
    holder: Reader,
    engine: EngineDep,
    request: Request,
    after_seq: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> Response:
    """Every event in seq order with its hash chain (``prev_hash`` -> ``hash``). ``at`` is when it took
    effect (a timed escalation's deadline), ``recorded_at`` when it was written."""
    with session_scope(engine, write=False) as session:
        page = case_queries.list_events(session, case_id, limit, after_seq)
    items = [EventView.model_validate(e, from_attributes=True) for e in page.items]
    link = None
    if page.next_cursor is not None:
        link = public_url(request.url.include_query_params(after_seq=page.next_cursor))
    return _json(Page[EventView](items=items, next=link))
