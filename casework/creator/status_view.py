"""What the creator sees of a case: plain language, never a queue, an agent or an internal note.

Built from the case, its pinned policy (``creator_title``, each stage's ``creator_text``, the clocks'
deadlines) and its public events (the agents' ``replied`` and the creator's ``creator_replied``
messages, and the text of the latest ``request_info``). Shared by the status page and the emails.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from casework.creator.texts import catalogue, localized
from casework.registry import policy_registry
from models.tables import Case, CaseEvent
from policies.model import Policy
from sla_engine.kinds import ActionName, ClockStatus, EventKind, Status
from sla_engine.state import state_from_dict

#: Who wrote a public message, as the creator reads it.
FROM_SUPPORT = "support"
FROM_CREATOR = "creator"
#: The actor of everything the creator does through the status page.
CREATOR_ACTOR = "creator"

_PUBLIC_KINDS = (EventKind.REPLIED, EventKind.CREATOR_REPLIED, EventKind.STATUS_CHANGED)


@dataclass(frozen=True)
class Promise:
    """One deadline the platform is held to: ``kind`` is ``answer`` or ``resolve``; ``due_at`` is
    None while the clock is paused for the creator; ``late`` once it has passed."""

    kind: str
    due_at: datetime | None
    paused: bool
    late: bool


@dataclass(frozen=True)
class Message:
    author: str
    at: datetime
    text: str


@dataclass(frozen=True)
class CreatorView:
    case_id: str
    language: str
    title: str
    status: str
    status_text: str
    stage_text: str
    promises: tuple[Promise, ...]
    request: str | None
    messages: tuple[Message, ...]
    accepts_replies: bool


def creator_view(session: Session, case: Case, language: str, now: datetime) -> CreatorView:
    """The case as its creator may see it, in ``language``."""
    policy, _calendar = policy_registry.get_policy(session, case.policy_id, case.policy_version)
    texts = catalogue(language)
    document = _document(policy)
    state = state_from_dict(case.state)
    stage_doc = _stage_document(document, state.stage.index)
    events = _public_events(session, case.id)
    status = str(state.status)
    return CreatorView(
        case_id=case.id,
        language=language,
        title=localized(document.get("creator_title"), language, None) or policy.title,
        status=status,
        status_text=texts[f"status_{status}"],
        stage_text=localized(stage_doc.get("creator_text"), language, None) or texts["stage_default"],
        promises=promises(policy, case, now),
        request=latest_request(events) if state.status is Status.WAITING_ON_CREATOR else None,
        messages=tuple(conversation(events)),
        accepts_replies=state.status not in (Status.CLOSED, Status.MERGED),
    )


def _document(policy: Policy) -> dict[str, Any]:
    try:
        document = json.loads(policy.canonical_json) if policy.canonical_json else {}
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _stage_document(document: dict[str, Any], index: int) -> dict[str, Any]:
    stages = document.get("stages")
    stage: dict[str, Any] = {}
    if isinstance(stages, list) and 0 <= index < len(stages) and isinstance(stages[index], dict):
        stage = stages[index]
    return stage


def promises(policy: Policy, case: Case, now: datetime) -> tuple[Promise, ...]:
    """At most two promises: the next answer and the resolution. A clock that stops on ``resolved``
    (or ``closed``) promises a resolution, any other an answer. Of several clocks of one kind the
    running one due first is shown, else one paused for the creator; clocks not counting (pending,
    stopped) promise nothing."""
    state = state_from_dict(case.state)
    specs = {spec.name: spec for spec in policy.clocks}
    best: dict[str, Promise] = {}
    for clock in state.clocks:
        spec = specs.get(clock.name)
        if spec is None or clock.status not in (ClockStatus.RUNNING, ClockStatus.PAUSED):
            continue
        stops = {str(s) for s in spec.stops_on}
        kind = "resolve" if stops & {"resolved", "closed"} else "answer"
        paused = clock.status is ClockStatus.PAUSED
        due = None if paused else clock.due_at
        if not paused and due is None:
            continue
        found = Promise(kind, due, paused, due is not None and due <= now)
        if kind not in best or _sooner(found, best[kind]):
            best[kind] = found
    return tuple(best[kind] for kind in ("answer", "resolve") if kind in best)


def _sooner(candidate: Promise, current: Promise) -> bool:
    if candidate.due_at is None:
        return False
    return current.due_at is None or candidate.due_at < current.due_at


def _public_events(session: Session, case_id: str) -> list[CaseEvent]:
    query = (
        select(CaseEvent)
        .where(CaseEvent.case_id == case_id, col(CaseEvent.kind).in_(_PUBLIC_KINDS))
        .order_by(col(CaseEvent.seq))
    )
    return list(session.exec(query))


def conversation(events: Sequence[CaseEvent]) -> list[Message]:
    """The public messages in order: agents' replies and the creator's messages (never notes). A
    creator's message is a ``creator_replied`` event, or the ``status_changed`` event of the
    ``creator_replied`` action that resumed the case, each with its ``message``."""
    messages = []
    for event in events:
        text = event.data.get("message")
        if not isinstance(text, str):
            continue
        if event.kind is EventKind.REPLIED:
            messages.append(Message(FROM_SUPPORT, event.at, text))
        elif event.kind is EventKind.CREATOR_REPLIED or _resumed_by_creator(event):
            messages.append(Message(FROM_CREATOR, event.at, text))
    return messages


def _resumed_by_creator(event: CaseEvent) -> bool:
    """The creator's message that resumed a case waiting on them: its ``status_changed`` event."""
    return event.kind is EventKind.STATUS_CHANGED and event.data.get("action") == ActionName.CREATOR_REPLIED


def latest_request(events: Sequence[CaseEvent]) -> str | None:
    """The agent's words when they last asked the creator for something (``request_info``'s
    ``reason``), verbatim; None when they gave none."""
    for event in reversed(events):
        if event.kind is EventKind.STATUS_CHANGED and event.data.get("action") == ActionName.REQUEST_INFO:
            reason = event.data.get("reason")
            return reason if isinstance(reason, str) and reason else None
    return None
