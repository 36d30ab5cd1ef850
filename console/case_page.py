"""A case's page (/console/cases/{id}) and its action forms.

Every form sends the case version it was rendered with; the action is applied only if the case is
still at that version (``lifecycle.apply_action``'s ``expected_version``). When someone changed the
case first, the page comes back (409) with "changed by X at T" and the fresh case: never a silent
overwrite, never a bare 412. Other refusals (the state machine, bad arguments) come back on the
page too, with console.messages' sentence. Success redirects (303) back to the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from casework.cases import lifecycle
from casework.cases.assignees import known_agents, known_queues
from casework.errors import (
    CaseNotFound,
    CaseworkError,
    ForbiddenTransition,
    InvalidAction,
    QueuesFileUnreadable,
    StaleVersion,
)
from casework.queries import case_queries, case_read
from casework.queries.case_activity import TimelineEvent, last_change, latest_events
from casework.queries.case_view import case_view, iso_duration
from casework.registry import policy_registry
from console import auth
from console.auth import ConsoleUser
from console.messages import console_message
from console.pages import compact_json, countdown_text, iso_z, render, utc_text
from models.db import session_scope, short_read
from sla_engine.agent_actions import known_priorities
from sla_engine.events import EngineEvent
from sla_engine.kinds import EventKind, Status
from sla_engine.sentences import sentence
from sla_engine.transitions import TRANSITIONS

router = APIRouter(prefix="/console/cases", include_in_schema=False)

Reader = Annotated[ConsoleUser, Depends(auth.require(*auth.ALL_ROLES))]
Worker = Annotated[ConsoleUser, Depends(auth.require(*auth.CASE_WORKERS))]
CaseId = Annotated[str, Path(max_length=40)]
FormText = Annotated[str | None, Form(max_length=10_000)]
#: Events the timeline shows by default (the latest), and at most with ``?timeline=all``.
TIMELINE_EVENTS = 20
MAX_EVENTS = 10_000

#: The form fields each action takes (besides ``reason``), in the order the forms show them.
ACTION_FIELDS: dict[str, tuple[str, ...]] = {
    "acknowledge": (),
    "start": (),
    "assign": ("assignee", "queue"),
    "note": ("text",),
    "reply": ("message",),
    "request_info": ("until",),
    "creator_replied": (),
    "escalate": ("to_stage",),
    "set_priority": ("priority",),
    "resolve": (),
    "reopen": (),
    "close": (),
    "merge_into": ("into",),
}
#: Form fields named otherwise in the action's arguments (``case_id`` is the page's own path).
ARGUMENT_NAMES = {"into": "case_id"}
#: Fields whose empty value means null (unassign; priority back to the rules; the next stage).
EMPTY_IS_NULL = {"assignee", "priority"}
EMPTY_IS_ABSENT = {"to_stage", "reason", "until", "queue"}
LABELS = {
    "acknowledge": "Acknowledge",
    "start": "Start work",
    "assign": "Assign",
    "note": "Add internal note",
    "reply": "Reply to the creator",
    "request_info": "Ask the creator (pause)",
    "creator_replied": "Creator replied (resume)",
    "escalate": "Escalate",
    "set_priority": "Set priority",
    "resolve": "Resolve",
    "reopen": "Reopen",
    "close": "Close",
    "merge_into": "Merge into another case",
}


@dataclass(frozen=True)
class StageStep:
    index: int
    id: str
    queue: str
    escalate_after: str | None
    place: str  # "done", "current" or "next"


def _allowed_actions(status: str) -> list[str]:
    row = TRANSITIONS.get(Status(status), {})
    return [name for name in ACTION_FIELDS if name in {str(a) for a in row}]


def _ladder(policy: Any, current: int, priority: str) -> list[StageStep]:
    steps = []
    for index, spec in enumerate(policy.stages):
        after = None
        if spec.escalate_after is not None:
            try:
                after = iso_duration(spec.escalate_after.for_priority(priority))
            except KeyError:
                after = None
        place = "done" if index < current else "current" if index == current else "next"
        steps.append(StageStep(index, spec.id, spec.queue, after, place))
    return steps


@dataclass(frozen=True)
class TimelineLine:
    """An event as its timeline row shows it: every text computed here, once per event, so the
    template only prints them (filters and tests per cell cost more than the rest of the page)."""

    seq: int
    kind: str
    kind_text: str
    at_iso: str
    at_utc: str
    recorded_iso: str
    recorded_utc: str
    lateness: str
    actor: str
    cause: str
    said: str | None  # the event in words (``_summary``)
    data: str  # compact JSON, "" when the event has no data


def _cause(event: TimelineEvent) -> str:
    """What caused the event: the timer's dedupe key, the agent's request, else the actor."""
    if event.dedupe_key:
        return f"timer {event.dedupe_key}"
    request = event.data.get("request") if isinstance(event.data, dict) else None
    if isinstance(request, dict):
        action = request.get("action")
        return f"{event.actor.split(':')[0]} request: {'' if action is None else action}"
    return event.actor


def timeline_lines(events: list[TimelineEvent]) -> list[TimelineLine]:
    return [
        TimelineLine(
            seq=event.seq,
            kind=event.kind,
            kind_text=event.kind.replace("_", " "),
            at_iso=iso_z(event.at),
            at_utc=utc_text(event.at),
            recorded_iso=iso_z(event.recorded_at),
            recorded_utc=utc_text(event.recorded_at),
            lateness=_lateness(event) or "—",
            actor=event.actor,
            cause=_cause(event),
            said=_summary(event),
            data=compact_json(event.data) if event.data else "",
        )
        for event in events
    ]


def _screen(request: Request, case_id: str, whole_timeline: bool = False) -> dict[str, Any]:
    """Everything the page shows, read in one transaction at the app clock's now: the case row
    with its breach flag and policy hash (one statement), its links, and its latest events (the
    last of which is its latest change: the total is its seq). The policy comes from the
    registry's cache."""
    now = auth.now_of(request)
    engine = request.app.state.engine
    with engine.connect() as connection, connection.begin():
        read = case_read.read_case(connection, case_id)
        case, session = read.case, Session(connection)
        view = case_view(session, case, now, read.breached, read.policy_sha256)
        # The latest events only unless asked: a case on a repeating last stage gathers hundreds.
        limit = MAX_EVENTS if whole_timeline else TIMELINE_EVENTS
        events = latest_events(connection, case_id, limit)
        policy, _calendar = policy_registry.get_policy(
            session, case.policy_id, case.policy_version, sha256=read.policy_sha256
        )
        agents, queues = _assign_choices(session)
    stage_index = view["stage"]["index"]
    return {
        "case": view,
        "events": timeline_lines(events),
        "ladder": _ladder(policy, stage_index, view["priority"]),
        "later_stages": [s.id for s in policy.stages[stage_index + 1 :]],
        "priorities": sorted(known_priorities(policy)),
        "actions": _allowed_actions(view["status"]),
        "labels": LABELS,
        "action_fields": ACTION_FIELDS,
        "now": now,
        "countdown_text": countdown_text,
        "policy_title": policy.title,
        "events_total": events[-1].seq if events else 0,
        "agents": agents,
        "queues": queues,
    }


def _summary(event: TimelineEvent) -> str | None:
    """The event in words (``sla_engine.sentences.sentence``: "first_response breached at its
    deadline (target 15m), priority P1"), its data beside it for the exact record; None for a kind
    without a sentence, or stored data that lacks what the sentence needs (the data still shows)."""
    try:
        return sentence(EngineEvent(EventKind(event.kind), event.at, event.actor, event.data))
    except (KeyError, TypeError, ValueError):
        return None


def _assign_choices(session: Session) -> tuple[list[str], list[str] | None]:
    """The assign form's choices: the known agents and queues (None: the queues file does not
    load, so the form offers no queue change and the page still shows the case)."""
    try:
        queues: list[str] | None = [q.name for q in known_queues(session)]
    except QueuesFileUnreadable:
        queues = None
    return known_agents(session), queues


def _lateness(event: TimelineEvent) -> str | None:
    """``recorded_at - at`` of a timed event (one with a dedupe key), as text."""
    if event.dedupe_key is None:
        return None
    late = event.recorded_at - event.at
    if late < timedelta(0):
        return f"{-late.total_seconds():.1f} s early"
    return f"{late.total_seconds():.1f} s"


def _page(
    request: Request,
    user: ConsoleUser,
    case_id: str,
    status_code: int = 200,
    whole_timeline: bool = False,
    **extra: Any,
) -> Response:
    try:
        screen = _screen(request, case_id, whole_timeline)
    except CaseworkError as err:
        return error_page(request, user, err, "Case")
    title = f"Case {case_id}"
    return render(request, "console/case.html", user, {"title": title, **screen, **extra}, status_code)


def error_page(request: Request, user: ConsoleUser, err: Exception, title: str) -> Response:
    found = console_message(err)
    if found is None:
        raise err
    status_code, message = found
    return render(request, "console/error.html", user, {"title": title, "message": message}, status_code)


@router.get("/{case_id}")
async def case_page(
    request: Request, user: Reader, case_id: CaseId, done: str | None = None, timeline: str = ""
) -> Response:
    """The page with its latest events: inline on SQLite (``short_read``: a few indexed reads and a
    render, cheaper than a hop to the thread pool). Every event (``timeline=all``, up to
    MAX_EVENTS) renders in the thread pool, never holding up the event loop."""
    notice = f"Done: {LABELS[done]}." if done in LABELS else None
    if timeline == "all":
        return await run_in_threadpool(_page, request, user, case_id, whole_timeline=True, notice=notice)
    return await short_read(request.app.state.engine, _page, request, user, case_id, notice=notice)


@router.get("/{case_id}/version")
async def case_version(request: Request, user: Reader, case_id: CaseId) -> Response:
    """The case's version and who changed it last (the page's script polls it)."""
    return await short_read(request.app.state.engine, _version, request, case_id)


def _version(request: Request, case_id: str) -> Response:
    with session_scope(request.app.state.engine, write=False) as session:
        try:
            case = case_queries.get_case(session, case_id)
        except CaseworkError:
            return JSONResponse({"detail": "no such case"}, status_code=404)
        last = last_change(session, case_id)
    body = {
        "version": case.version,
        "by": last.actor if last else None,
        "at": iso_z(last.at if last else None),
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def action_args(action: str, form: dict[str, str | None]) -> dict[str, Any]:
    """The action's arguments from its form fields (see EMPTY_IS_NULL / EMPTY_IS_ABSENT)."""
    if action not in ACTION_FIELDS:
        raise InvalidAction(f"unknown action {action!r}", "action")
    args: dict[str, Any] = {}
    for name in (*ACTION_FIELDS[action], "reason"):
        value = (form.get(name) or "").strip()
        if value:
            args[ARGUMENT_NAMES.get(name, name)] = value
        elif name in EMPTY_IS_NULL:
            args[name] = None
        elif name not in EMPTY_IS_ABSENT:
            raise InvalidAction(f"{name.replace('_', ' ')} is required", name)
    return args


@router.post("/{case_id}/actions")
def act(
    request: Request,
    user: Worker,
    case_id: CaseId,
    csrf: Annotated[str, Form(max_length=500)] = "",
    action: Annotated[str, Form(max_length=40)] = "",
    version: Annotated[int, Form(ge=0)] = 0,
    assignee: FormText = None,
    text: FormText = None,
    message: FormText = None,
    to_stage: FormText = None,
    priority: FormText = None,
    reason: FormText = None,
    until: Annotated[str | None, Form(max_length=40)] = None,
    into: Annotated[str | None, Form(max_length=40)] = None,
    queue: Annotated[str | None, Form(max_length=200)] = None,
) -> Response:
    auth.check_csrf(request, user, csrf)
    fields = {"assignee": assignee, "text": text, "message": message, "to_stage": to_stage}
    fields.update({"priority": priority, "reason": reason, "until": until, "into": into, "queue": queue})
    now = auth.now_of(request)
    try:
        args = action_args(action, fields)
        with session_scope(request.app.state.engine) as session:
            lifecycle.apply_action(session, case_id, action, args, user.holder.actor, now, version)
    except StaleVersion:
        return _conflict(request, user, case_id, action)
    except (CaseworkError, InvalidAction, ForbiddenTransition) as err:
        found = console_message(err)
        if found is None or isinstance(err, CaseNotFound):
            return error_page(request, user, err, "Case")
        return _page(request, user, case_id, found[0], error=found[1], failed_action=action)
    return RedirectResponse(f"/console/cases/{case_id}?done={action}#actions", status_code=303)


def _conflict(request: Request, user: ConsoleUser, case_id: str, action: str) -> Response:
    screen_extra: dict[str, Any] = {"failed_action": action}
    with session_scope(request.app.state.engine, write=False) as session:
        last = last_change(session, case_id)
    if last is not None:
        screen_extra["conflict"] = (
            f"Changed by {last.actor} at {utc_text(last.at)}: your {LABELS.get(action, action)} was not "
            "applied. This is the case as it is now; check it and act again if still needed."
        )
    return _page(request, user, case_id, 409, **screen_extra)
