"""The progress bar of commands that work case by case (``cases bulk``, ``policies migrate``): on
stderr, gone when done, advanced as each case's result lands (casework.bulk.runner.run_each)."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from casework.bulk.runner import CaseResult

OnResult = Callable[[CaseResult], None]


def with_progress(label: str, total: int, run: Callable[[OnResult], list[CaseResult]]) -> list[CaseResult]:
    """``run(on_result)`` under a bar of ``total`` cases labelled ``label``."""
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=total)
        return run(lambda _result: progress.advance(task))
