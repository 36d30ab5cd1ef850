"""The compliance report's reads from the roll-ups (casework.history.rollups keeps them): the same
rows as casework.reports.compliance_queries gives from the scans, for whole UTC days of opening,
from a few rows per day and group (read by the tables' primary keys, which start with the day).

The clocks' durations come as sketch bins (casework.history.quantile_sketch), merged per group and
clock here, so the caller never sees the per-day rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from casework.history import quantile_sketch as sketch
from casework.reports.compliance_queries import ClockGroup, group_key
from models.tables import OUTCOME_GROUPS, ROLLUP_CASES, ROLLUP_CLOCKS, ROLLUP_ESCALATIONS

_WIDTH = len(OUTCOME_GROUPS)


def _key_of(group_by: str, groups: tuple[Any, ...]) -> str:
    if group_by == "policy_version":
        return group_key(group_by, groups[:2])
    return str(groups[OUTCOME_GROUPS.index(group_by)])


def _read(session: Session, table: sa.Table, first: date, last: date, *more: str) -> Any:
    """The rows of days ``[first, last)``: the group columns, then ``more``."""
    columns = [table.c[name] for name in (*OUTCOME_GROUPS, *more)]
    return session.connection().execute(sa.select(*columns).where(table.c.day >= first, table.c.day < last))


def case_counts(
    session: Session, first: date, last: date, group_by: str
) -> Iterator[tuple[str, tuple[Any, ...], int]]:
    """(group key, values of every group column, cases), as compliance_queries.case_counts."""
    totals: dict[tuple[Any, ...], int] = {}
    for row in _read(session, ROLLUP_CASES, first, last, "cases"):
        groups = tuple(row[:_WIDTH])
        totals[groups] = totals.get(groups, 0) + row[-1]
    for groups, cases in totals.items():
        if cases:
            yield _key_of(group_by, groups), groups, cases


def clock_groups(session: Session, first: date, last: date, group_by: str) -> Iterator[ClockGroup]:
    """Per group key, policy version and clock: counts summed, sketches merged (``working_bins``,
    ``wall_bins``; the lists of exact stops are empty)."""
    merged: dict[tuple[str, tuple[str, int], str], tuple[list[int], dict[int, int], dict[int, int]]] = {}
    names = ("clock", "met", "breached", "cycles", "missed_cycles", "working", "wall")
    for row in _read(session, ROLLUP_CLOCKS, first, last, *names):
        clock, *counts = row[_WIDTH : _WIDTH + 5]
        key = (_key_of(group_by, tuple(row[:_WIDTH])), (row[0], row[1]), clock)
        sums, working, wall = merged.setdefault(key, ([0, 0, 0, 0], {}, {}))
        for i, value in enumerate(counts):
            sums[i] += value
        sketch.merge_text(working, row[-2])
        sketch.merge_text(wall, row[-1])
    for (group, policy, name), ((met, breached, cycles, missed), working, wall) in merged.items():
        if not (met or breached or cycles or missed or any(working.values()) or any(wall.values())):
            continue  # rows whose cases all moved to another group count nothing
        yield ClockGroup(group, policy, name, breached, met, [], [], cycles, missed, working, wall)


def escalation_counts(
    session: Session, first: date, last: date, group_by: str
) -> Iterator[tuple[str, str, int, int]]:
    """(group key, stage entered, escalations, of which by hand), as compliance_queries gives them
    (the stage "None" when the events named none)."""
    totals: dict[tuple[str, str], list[int]] = {}
    for row in _read(session, ROLLUP_ESCALATIONS, first, last, "stage", "escalations", "manual"):
        stage, count, manual = row[_WIDTH:]
        sums = totals.setdefault((_key_of(group_by, tuple(row[:_WIDTH])), stage or "None"), [0, 0])
        sums[0] += count
        sums[1] += manual
    for (key, stage), (count, manual) in totals.items():
        if count or manual:
            yield key, stage, count, manual
