"""Let hypothesis-jsonschema 0.23 generate objects under the pinned Hypothesis.

hypothesis-jsonschema 0.23.1 (the latest release) drives ``hypothesis.internal.conjecture.utils.many``
through ``elements.more()``; Hypothesis 6.170 replaced that with ``with many(...) as elements: for _
in elements:``. :func:`install` gives hypothesis-jsonschema a ``many`` with the old interface on top
of the new one, only when the installed Hypothesis lacks ``more``. Tests only; drop it once
hypothesis-jsonschema adapts.
"""

from __future__ import annotations

import types
from typing import Any

import hypothesis_jsonschema._from_schema as from_schema_module
from hypothesis.internal.conjecture import utils as conjecture_utils


class _LegacyMany:
    """Hypothesis's own pre-6.170 ``many``: a ``more()``/``reject()`` loop over spans of one element."""

    def __init__(self, data: Any, min_size: int, max_size: float, average_size: float) -> None:
        self.data, self.min_size, self.max_size = data, min_size, max_size
        self.p_continue = conjecture_utils._calc_p_continue(average_size - min_size, max_size - min_size)
        self.count = self.rejections = 0
        self.drawn = self.force_stop = self.rejected = False

    def more(self) -> bool:
        if self.drawn:
            self.data.stop_span(discard=self.rejected)
        self.drawn, self.rejected = True, False
        self.data.start_span(conjecture_utils.ONE_FROM_MANY_LABEL)
        if self.min_size == self.max_size:
            keep_going = self.count < self.min_size
        else:
            forced: bool | None = None
            if self.force_stop or self.count >= self.max_size:
                forced = False
            elif self.count < self.min_size:
                forced = True
            keep_going = self.data.draw_boolean(self.p_continue, forced=forced)
        if keep_going:
            self.count += 1
            return True
        self.data.stop_span(discard=False)
        return False

    def reject(self, why: str | None = None) -> None:
        self.count -= 1
        self.rejections += 1
        self.rejected = True
        if self.rejections > max(3, 2 * self.count):
            if self.count < self.min_size:
                self.data.mark_invalid(why)
            else:
                self.force_stop = True


def install() -> None:
    if hasattr(conjecture_utils.many, "more"):
        return
    shim = types.SimpleNamespace(**vars(conjecture_utils))
    shim.many = _LegacyMany
    from_schema_module.cu = shim  # type: ignore[assignment,attr-defined]
