"""Every domain error the services raise; ``api.problems`` maps them to problem+json, ``cli.common``
to exit codes.

The engine's own errors pass through unchanged and are re-exported here so callers catch one
module's names: ``ForbiddenTransition`` (the state machine refuses the action: HTTP 409) and
``InvalidAction`` (arguments that cannot apply, with ``field`` naming the argument: HTTP 422).
"""

from __future__ import annotations

from typing import Any

from sla_engine.agent_actions import InvalidAction
from sla_engine.transitions import ForbiddenTransition

__all__ = [
    "AmbiguousPolicy",
    "BulkKeyReused",
    "ApiKeyNameTaken",
    "ApiKeyNotFound",
    "CaseNotFound",
    "CaseworkError",
    "SettingsInvalid",
    "DuplicateTimedEvent",
    "ForbiddenTransition",
    "IdempotencyKeyReused",
    "IdempotencyRace",
    "InputRejected",
    "InvalidAction",
    "LinkConflict",
    "LinkNotFound",
    "OpenChildren",
    "InvalidCursor",
    "InvalidIdempotencyKey",
    "InvalidKeyName",
    "LinkNotFound",
    "PolicyNotRegistered",
    "PolicyRetired",
    "MigrationTargetInvalid",
    "StaleVersion",
    "StoredPolicyUnreadable",
    "StatusLinkNotFound",
    "TooManyCases",
    "TooManyReplies",
    "UnknownAgent",
    "UnknownName",
    "UnknownQueue",
    "QueuesFileUnreadable",
    "UnreadableAction",
]


class CaseworkError(Exception):
    """Base of the services' own errors.

    Each pickles as it is (its class, message and attributes), whatever its ``__init__`` takes:
    the SQLite sweep's lane processes (flows.sweep_lanes) send their errors to the worker this way,
    and an error that could not be rebuilt there would be taken for a dead lane."""

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuilt, (type(self), self.args, self.__dict__)


def _rebuilt(kind: type[CaseworkError], args: tuple[Any, ...], attributes: dict[str, Any]) -> CaseworkError:
    error = kind.__new__(kind)
    error.args = args
    error.__dict__.update(attributes)
    return error


class InputRejected(CaseworkError):
    """Input outside the services' limits (too deep, too large, non-finite, an instant out of
    range, a case backdated too far): ``pointer`` is the JSON pointer of the offending value."""

    def __init__(self, pointer: str, message: str) -> None:
        super().__init__(f"{pointer or '/'}: {message}")
        self.pointer = pointer
        self.message = message


class CaseNotFound(CaseworkError):
    def __init__(self, case_id: str) -> None:
        super().__init__(f"no case with id {case_id!r}")
        self.case_id = case_id


class StaleVersion(CaseworkError):
    """The case changed since the caller read it (HTTP 412 on If-Match): re-read and retry."""

    def __init__(self, case_id: str, expected_version: int | None, current_version: int) -> None:
        detail = f"expected version {expected_version}" if expected_version is not None else "it changed"
        super().__init__(f"case {case_id} is at version {current_version}, {detail}: read it again and retry")
        self.case_id = case_id
        self.expected_version = expected_version
        self.current_version = current_version


class PolicyNotRegistered(CaseworkError):
    """No registered policy (or version) matches; register one with `lifeline policies apply`."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is not registered; register it with `lifeline policies apply`")
        self.what = what


class PolicyRetired(CaseworkError):
    """The policy was retired (``lifeline policies retire``): no new case opens under it."""

    def __init__(self, policy_id: str) -> None:
        super().__init__(
            f"policy {policy_id!r} is retired: no new case opens under it (its open cases keep it)"
        )
        self.policy_id = policy_id


class MigrationTargetInvalid(CaseworkError):
    """A migration's target names a version of another policy (``pointer`` says where)."""

    def __init__(self, message: str, pointer: str = "/to") -> None:
        super().__init__(message)
        self.pointer = pointer


class AmbiguousPolicy(CaseworkError):
    """Several registered policies handle the same incident type; open the case by policy id."""

    def __init__(self, incident_type: str, policy_ids: list[str]) -> None:
        super().__init__(
            f"incident type {incident_type!r} is handled by several policies ({', '.join(policy_ids)}); "
            "name the policy_id"
        )
        self.incident_type = incident_type
        self.policy_ids = policy_ids


class DuplicateTimedEvent(CaseworkError):
    """A timed event's dedupe key is already stored for this case: the escalation was written
    already (by another worker). The transaction must be rolled back; nothing is written twice."""

    def __init__(self, case_id: str) -> None:
        super().__init__(f"case {case_id}: a timed event was already recorded (duplicate dedupe key)")
        self.case_id = case_id


class OpenChildren(CaseworkError):
    """A parent case cannot be resolved while a child is open, unless forced with a reason."""

    def __init__(self, case_id: str, children: list[str]) -> None:
        super().__init__(
            f"case {case_id} has open child cases ({', '.join(children)}): resolve them first, "
            "or resolve with force: true and a reason"
        )
        self.case_id = case_id
        self.children = children


class LinkConflict(CaseworkError):
    """The two cases are already linked (one link per pair), or the link cannot be made in their state."""

    def __init__(self, message: str, case_id: str, other_case_id: str) -> None:
        super().__init__(message)
        self.case_id = case_id
        self.other_case_id = other_case_id


class LinkNotFound(CaseworkError):
    def __init__(self, case_id: str, other_case_id: str) -> None:
        super().__init__(f"case {case_id} has no link with case {other_case_id}")
        self.case_id = case_id
        self.other_case_id = other_case_id


class StoredPolicyUnreadable(CaseworkError):
    """A registered document no longer loads (its calendar is gone, or the language changed): the
    deployment's policies directory must be fixed, the caller's input is not at fault."""


class IdempotencyKeyReused(CaseworkError):
    """The key was already used, within the retention window, for a request with another body."""

    def __init__(self, key: str, case_id: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was already used for a different request (which opened case "
            f"{case_id}); use a new key for a new request"
        )
        self.key = key
        self.case_id = case_id


class IdempotencyRace(CaseworkError):
    """Another transaction recorded the same key first: roll back and look the key up again."""


class InvalidIdempotencyKey(CaseworkError):
    pass


class InvalidCursor(CaseworkError):
    def __init__(self) -> None:
        super().__init__("the cursor is not one this API gave out; start again without it")


class ApiKeyNotFound(CaseworkError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"no active API key with id or name {ref!r}")
        self.ref = ref


class ApiKeyNameTaken(CaseworkError):
    def __init__(self, name: str) -> None:
        super().__init__(f"an active API key is already named {name!r}; revoke it or pick another name")
        self.name = name


class InvalidKeyName(CaseworkError):
    pass


class UnreadableAction(CaseworkError):
    """An agent's event that no action writes in that shape (tampered, or an unknown kind)."""

    def __init__(self, seq: int, detail: str) -> None:
        super().__init__(detail)
        self.seq = seq


class BulkKeyReused(CaseworkError):
    """A bulk action's Idempotency-Key was already used for a different bulk request."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was already used for a different bulk request; use a new key"
        )
        self.key = key


class TooManyCases(CaseworkError):
    """A bulk action's filter selects more cases than one request may act on."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the filter selects more than {limit} cases; narrow it (e.g. by queue or due_before)"
        )
        self.limit = limit


class StatusLinkNotFound(CaseworkError):
    """A creator status link that is unknown, rotated or expired. Deliberately says nothing more:
    the page shown for it is the same whether a case exists or not."""

    def __init__(self) -> None:
        super().__init__("no such status link")


class TooManyReplies(CaseworkError):
    """The creator has sent the most replies an hour allows for this case (HTTP 429)."""

    def __init__(self, limit: int, retry_after_seconds: int) -> None:
        super().__init__(f"at most {limit} replies an hour per case; try again in {retry_after_seconds} s")
        self.limit = limit
        self.retry_after_seconds = retry_after_seconds


class UnknownName(CaseworkError):
    """A name the deployment does not know, given where only known ones apply: ``field`` is the
    argument (``assignee``, ``queue``), ``known`` every value it accepts (sorted)."""

    what = "name"

    def __init__(self, field: str, name: str, known: list[str]) -> None:
        listed = ", ".join(known) if known else "none yet"
        super().__init__(f"{name!r} is not a known {self.what}; known {self.what}s: {listed}")
        self.field = field
        self.name = name
        self.known = known


class UnknownAgent(UnknownName):
    """``assign`` to someone who is not an agent: agents are the names of the active agent keys."""

    what = "agent"


class UnknownQueue(UnknownName):
    """A queue no registered policy names and the queues file (LIFELINE_QUEUES_FILE) does not list."""

    what = "queue"


class QueuesFileUnreadable(CaseworkError):
    """LIFELINE_QUEUES_FILE cannot be read or is malformed: the deployment is at fault, not the
    request (like StoredPolicyUnreadable)."""


class SettingsInvalid(CaseworkError):
    """A ``LIFELINE_*`` environment variable holds a value its setting refuses (casework.settings)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid settings: " + "; ".join(problems))
        self.problems = problems


class DigestError(CaseworkError):
    """A signing key or chain digest that cannot be used (missing, malformed, bad signature)."""
