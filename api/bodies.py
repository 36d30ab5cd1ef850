"""Request and response models: what /docs shows and what the API accepts.

Request models forbid unknown fields (a typo is a 422 naming it, not silently ignored); case
attributes accept extra fields, since platforms add their own. Datetimes must carry a UTC offset.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    model_validator,
)

from api.checked_input import Instant
from casework.queries.case_view import CaseView

T = TypeVar("T")

Text = Annotated[StrictStr, Field(max_length=10_000)]
Name = Annotated[StrictStr, Field(min_length=1, max_length=200)]


class Creator(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: Name | None = None
    handle: Name | None = None
    platform: Name | None = None
    tier: Name | None = Field(None, description="e.g. standard, partner, top")
    followers: Annotated[StrictInt, Field(ge=0)] | None = None


class Impact(BaseModel):
    model_config = ConfigDict(extra="allow")

    monetized: StrictBool | None = None
    next_sponsored_post_at: Instant | None = Field(
        None, description="When the creator's next sponsored post goes out (caps resolution deadlines)."
    )
    linked_accounts_at_risk: Annotated[StrictInt, Field(ge=0)] | None = None
    estimated_daily_revenue: Annotated[StrictFloat, Field(ge=0)] | None = None


class CaseAttributes(BaseModel):
    """What the policy's priority rules and deadline caps read (dotted paths like creator.tier)."""

    model_config = ConfigDict(extra="allow")

    creator: Creator | None = None
    impact: Impact | None = None
    summary: Text | None = None


class CaseCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "incident_type": "account_compromised",
                    "attributes": {
                        "summary": "Channel taken over, 2FA changed; sponsored post tonight",
                        "creator": {"id": "cr_1042", "handle": "@lunabakes", "tier": "partner"},
                        "impact": {"monetized": True, "next_sponsored_post_at": "2026-11-25T20:00:00Z"},
                    },
                }
            ]
        },
    )

    incident_type: Name | None = Field(None, description="Opens under the one policy for this type.")
    policy_id: Name | None = Field(None, description="Opens under this policy (latest version).")
    attributes: CaseAttributes = Field(default_factory=CaseAttributes)
    opened_at: Instant | None = Field(
        None, description="When the creator reported it (default now; may be in the past, never future)."
    )
    status: Literal["open", "waiting_on_creator"] = Field(
        "open", description="Open already waiting on the creator (details needed before work can start)."
    )

    @model_validator(mode="after")
    def _needs_policy(self) -> CaseCreate:
        if self.incident_type is None and self.policy_id is None:
            raise ValueError("name an incident_type or a policy_id")
        return self


# --- actions --------------------------------------------------------------------------------------


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text | None = Field(None, description="Why; recorded on the event.")


class Acknowledge(_Action):
    action: Literal["acknowledge"]


class Start(_Action):
    action: Literal["start"]


class RequestInfo(_Action):
    """Pause: the case waits on the creator (clocks with pauses_on stop counting). With ``until``,
    the worker resumes the case by itself at that instant (event ``pause_expired``)."""

    action: Literal["request_info"]
    until: Instant | None = Field(None, description="When waiting ends by itself (within 366 days).")


class CreatorReplied(_Action):
    """The creator wrote: resumes a case waiting on the creator; elsewhere it is recorded and starts
    a next-reply cycle (no status change)."""

    action: Literal["creator_replied"]
    message: Annotated[StrictStr, Field(min_length=1, max_length=5000)] | None = None


class Reply(_Action):
    """A public message to the creator (``note`` stays internal); event ``replied``."""

    action: Literal["reply"]
    message: Annotated[StrictStr, Field(min_length=1, max_length=5000)]


class Resolve(_Action):
    """``force`` (with a ``reason``) resolves a parent case whose children are still open."""

    action: Literal["resolve"]
    force: StrictBool | None = None


class Reopen(_Action):
    action: Literal["reopen"]


class Close(_Action):
    action: Literal["close"]


class Assign(_Action):
    """Set ``assignee`` (null unassigns) and/or move the case to another ``queue``."""

    action: Literal["assign"]
    assignee: Name | None = None
    queue: Name | None = None


class Note(_Action):
    action: Literal["note"]
    text: Annotated[StrictStr, Field(min_length=1, max_length=10_000)]


class Escalate(_Action):
    """Escalate by hand to the next stage, or to ``to_stage`` (a later stage id)."""

    action: Literal["escalate"]
    to_stage: Name | None = None


class SetPriority(_Action):
    """Override the priority (targets recompute, elapsed time is kept); null returns to the rules."""

    action: Literal["set_priority"]
    priority: Annotated[StrictStr, Field(max_length=20)] | None


class UpdateAttributes(_Action):
    """JSON merge patch of the attributes (null removes a key); the priority rules run again."""

    action: Literal["update_attributes"]
    attributes: CaseAttributes


class MergeInto(_Action):
    """Close this case as a duplicate of ``case_id`` (status ``merged``; its clocks stop)."""

    action: Literal["merge_into"]
    case_id: Annotated[StrictStr, Field(min_length=1, max_length=40)]
    force: StrictBool | None = None


#: The body of POST /v1/cases/{id}/actions, told apart by ``action`` (use with
#: ``Body(discriminator="action")``).
CaseAction = (
    Acknowledge
    | Assign
    | Start
    | Note
    | RequestInfo
    | CreatorReplied
    | Escalate
    | SetPriority
    | UpdateAttributes
    | Resolve
    | Reopen
    | Close
    | Reply
    | MergeInto
)


# --- responses ------------------------------------------------------------------------------------


class OpenedCaseView(CaseView):
    """The 201 of POST /v1/cases: the case, and its creator's status link, given this once (only its
    hash is stored; a retry with the same Idempotency-Key answers null: rotate to get a new one)."""

    creator_link: Annotated[
        str | None, Field(description="Absolute URL of the creator's status page; shown once, never stored.")
    ]


OPENED_CASE_VIEW = TypeAdapter(OpenedCaseView)


class CreatorLinkView(BaseModel):
    case_id: str
    creator_link: str = Field(description="The new status link; the previous one no longer works.")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next: str | None = Field(description="URL of the next page (same filters); null on the last page")


class EventView(BaseModel):
    seq: int
    kind: str
    at: datetime
    recorded_at: datetime
    actor: str
    data: dict[str, Any]
    policy_version: int
    dedupe_key: str | None
    prev_hash: str
    hash: str


class BreachView(BaseModel):
    id: int
    case_id: str
    incident_type: str
    target_type: str
    target: str
    priority: str
    queue: str
    due_at: datetime
    detected_at: datetime
    lateness_seconds: float = Field(description="detected_at - due_at: how late the worker recorded it")
    event_seq: int
    policy_version: int


# --- policies -------------------------------------------------------------------------------------


class PolicySummary(BaseModel):
    id: str
    title: str
    incident_type: str
    latest_version: int
    sha256: str
    registered_at: datetime
    open_cases: int = Field(description="Open cases over all versions")
    retired: bool = Field(False, description="Retired: no new case opens under it; open cases keep it")
    retired_at: datetime | None = None


class PolicyVersionView(BaseModel):
    version: int
    sha256: str
    title: str
    registered_at: datetime
    open_cases: int
    latest: bool


class PolicyDetail(BaseModel):
    id: str
    title: str
    incident_type: str
    latest_version: int
    version: int = Field(description="The version whose document is shown")
    document: dict[str, Any]
    versions: list[PolicyVersionView]
    retired: bool = Field(False, description="Retired: no new case opens under it; open cases keep it")
    retired_at: datetime | None = None


class Diagnostic(BaseModel):
    pointer: str
    message: str
    severity: Literal["error", "warning"] = "error"


class ValidationReport(BaseModel):
    valid: bool
    errors: list[Diagnostic]
    warnings: list[Diagnostic]


class SimulateRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "case": {
                        "opened_at": "2026-11-24T20:05:00Z",
                        "attributes": {"creator": {"tier": "partner"}, "impact": {"monetized": True}},
                    },
                    "actions": [
                        {"at": "2026-11-24T20:12:00Z", "action": "acknowledge"},
                        {"at": "2026-11-24T20:30:00Z", "action": "request_info"},
                    ],
                }
            ]
        },
    )

    case: dict[str, Any] = Field(
        description='{"opened_at": ISO 8601 with offset, "attributes": {...}, "status"?: ...}'
    )
    actions: list[Any] = Field(default_factory=list, description='[{"at": ISO, "action": name, ...args}]')
    until: Instant | None = Field(None, description="Run the timers until this instant (default: quiet)")
    version: Annotated[int, Field(ge=1)] | None = Field(
        None, description="A registered version of this policy (default: the latest)"
    )
    policy: dict[str, Any] | None = Field(
        None, description="A draft policy document to simulate instead (validated; nothing is registered)"
    )


class BulkCase(BaseModel):
    """A case and the version the client saw (bulk actions, policy migrations): stale if it moved on."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[StrictStr, Field(min_length=1, max_length=40)]
    version: Annotated[int, Field(ge=1, description="The version you saw: stale if the case moved on")]
