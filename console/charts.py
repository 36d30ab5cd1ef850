"""Charts drawn on the server as SVG: geometry computed here, markup in templates (autoescaped, so
labels from data are text). No script, no library: each chart has a title and a table beside it
with the same numbers (the text equivalent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

WIDTH = 640
LABEL_WIDTH = 200
ROW = 26
BAR_AREA = WIDTH - LABEL_WIDTH - 70


@dataclass(frozen=True)
class Bar:
    label: str
    value_text: str
    y: int
    width: float
    css: str


@dataclass(frozen=True)
class BarChart:
    title: str
    bars: list[Bar]
    height: int
    label_width: int = LABEL_WIDTH
    width: int = WIDTH


def bar_chart(title: str, items: Sequence[tuple[str, float | None, str]], maximum: float) -> BarChart:
    """Horizontal bars: (label, value or None for "no data", css class) scaled to ``maximum``."""
    bars = []
    for i, (label, value, css) in enumerate(items):
        scale = 0.0 if value is None or maximum <= 0 else max(0.0, value) / maximum
        text = "no data" if value is None else f"{value:g}"
        bars.append(Bar(label, text, i * ROW + 8, round(scale * BAR_AREA, 1), css))
    return BarChart(title, bars, max(len(items), 1) * ROW + 16)


@dataclass(frozen=True)
class Mark:
    x: float
    lane: int
    kind: str
    label: str
    at: datetime


@dataclass(frozen=True)
class TimeAxis:
    marks: list[Mark]
    ticks: list[tuple[float, str]]
    height: int
    width: int = WIDTH
    left: int = 20
    right: int = WIDTH - 20


LANES = {"breached": 0, "at_risk": 1, "escalated": 2, "notified": 3}


def time_axis(entries: list[tuple[datetime, str, str]]) -> TimeAxis:
    """Marks for (at, kind, label) on one axis from the first to the last instant; one lane per
    kind of mark (breaches, warnings, escalations, notifications, the rest) so labels do not pile."""
    if not entries:
        return TimeAxis([], [], 60)
    start, end = min(e[0] for e in entries), max(e[0] for e in entries)
    span = max((end - start).total_seconds(), 1.0)
    left, right = 20, WIDTH - 20

    def x_of(at: datetime) -> float:
        return round(left + (at - start).total_seconds() / span * (right - left), 1)

    marks = [Mark(x_of(at), LANES.get(kind, 4), kind, label, at) for at, kind, label in entries]
    ticks = []
    for i in range(5):
        seconds = span * i / 4
        ticks.append((round(left + (right - left) * i / 4, 1), _offset_text(seconds)))
    return TimeAxis(marks, ticks, 5 * 22 + 50)


def _offset_text(seconds: float) -> str:
    minutes = seconds / 60
    if minutes < 120:
        return f"+{minutes:.0f} min"
    hours = minutes / 60
    return f"+{hours:.1f} h" if hours < 48 else f"+{hours / 24:.1f} d"
