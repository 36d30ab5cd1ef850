"""Named values stored by the persistence layer (the engine's own kinds live in sla_engine.kinds).

These strings are part of the public contract (API, exports, the database): never rename one.
"""

from enum import StrEnum


class NotificationStatus(StrEnum):
    """An outbox row's life: pending until delivered, or dead after its last failed attempt."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


class BreachTarget(StrEnum):
    """What a breach is about: an SLA clock (first_response, resolution) or an escalation stage."""

    CLOCK = "clock"
    STAGE = "stage"


class Role(StrEnum):
    ADMIN = "admin"
    AGENT = "agent"
    AUDITOR = "auditor"


class LinkKind(StrEnum):
    """How a stored link relates its ``case_id`` to its ``other_case_id`` (casework.links)."""

    PARENT_OF = "parent_of"
    RELATED = "related"
    DUPLICATE_OF = "duplicate_of"
    MERGED_INTO = "merged_into"
