"""The one table that turns domain errors into what the console tells a person (the console's
counterpart of ``api.problems.DOMAIN_ERRORS``): an HTTP status and a sentence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from casework.errors import (
    CaseNotFound,
    CaseworkError,
    DuplicateTimedEvent,
    ForbiddenTransition,
    InvalidAction,
    InvalidCursor,
    PolicyNotRegistered,
    PolicyRetired,
    QueuesFileUnreadable,
    StaleVersion,
    UnknownName,
)
from models.db import TransactionConflict
from sla_engine.simulation import SimulationInputError

CONSOLE_MESSAGES: dict[type[Exception], Callable[[Any], tuple[int, str]]] = {
    CaseNotFound: lambda e: (404, f"There is no case {e.case_id}."),
    StaleVersion: lambda _e: (409, "Someone else changed this case first; nothing was changed by you."),
    ForbiddenTransition: lambda e: (409, f"Not possible now: {e}."),
    InvalidAction: lambda e: (422, f"Not applied: {e}."),
    PolicyNotRegistered: lambda e: (404, str(e)),
    PolicyRetired: lambda e: (409, f"Policy {e.policy_id} is retired: no new case opens under it."),
    DuplicateTimedEvent: lambda _e: (409, "The escalation worker changed the case at that moment; retry."),
    TransactionConflict: lambda _e: (
        409,
        "Another change to these cases was being saved at that moment; retry.",
    ),
    InvalidCursor: lambda _e: (400, "This page link is no longer valid; start again from the first page."),
    SimulationInputError: lambda e: (422, f"{e.pointer or '/'}: {e.message}"),
    UnknownName: lambda e: (422, f"Not applied: {e}."),
    QueuesFileUnreadable: lambda e: (500, f"The deployment's queues file does not load: {e}"),
}


def console_message(err: Exception) -> tuple[int, str] | None:
    """The status and message for ``err``; None for an error that is not the user's to fix."""
    for cls in type(err).__mro__:
        mapper = CONSOLE_MESSAGES.get(cls)
        if mapper is not None:
            return mapper(err)
    if isinstance(err, CaseworkError):
        return 422, str(err)
    return None
