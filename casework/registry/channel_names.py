"""Which channels the registered policies notify that the channels file does not define.

A notification to such a channel is dead at once (nobody to send it to), so ``lifeline worker`` and
``lifeline serve`` warn about them at start, naming the policy, version and JSON pointer.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.tables import PolicyVersion
from policies.lint import actions


def undefined_channels(session: Session, defined: Collection[str]) -> list[str]:
    """One line per ``notify`` of a channel not in ``defined``, in the latest version of each
    registered policy: ``<policy> v<version> <pointer>: channel '<name>'``. A stored document
    that is not JSON (it cannot be checked) is skipped."""
    return [
        f"{policy_id} v{version} {where}/notify: channel {name!r}"
        for policy_id, version, where, name in _notifies(session)
        if name not in defined
    ]


def notified_channels(session: Session) -> list[str]:
    """Every channel the latest version of a registered policy notifies, sorted, each once: what a
    channels file must define (``lifeline serve --demo`` writes one for them)."""
    return sorted({name for _policy, _version, _where, name in _notifies(session)})


def _notifies(session: Session) -> Iterator[tuple[str, int, str, str]]:
    """(policy, version, pointer, channel) of each ``notify`` in the latest version of each policy."""
    latest = (
        select(PolicyVersion.policy_id, func.max(PolicyVersion.version))
        .group_by(col(PolicyVersion.policy_id))
        .subquery()
    )
    query = select(PolicyVersion).join(
        latest,
        (col(PolicyVersion.policy_id) == latest.c.policy_id) & (col(PolicyVersion.version) == latest.c[1]),
    )
    for row in session.exec(query.order_by(col(PolicyVersion.policy_id))):
        try:
            document = json.loads(row.document)
        except ValueError:
            continue
        for where, action in actions(document):
            name = action.get("notify")
            if name is not None:
                yield row.policy_id, row.version, where, str(name)
