"""FastAPI's reading of query parameters, without inspecting each annotation again per request.

FastAPI (0.150) asks ``field_annotation_is_sequence(annotation)`` (``typing.get_origin`` and
``get_args`` walks, ``issubclass`` checks) twice for every declared parameter of every request:
for GET /v1/cases and its twelve query parameters that was about a quarter of the route's CPU under
the profiler (bench/README.md). The answer depends on the annotation alone (a type, fixed when the
route is declared), so ``install`` makes FastAPI's module remember it per annotation: the same
function, the same answers, computed once. An unhashable annotation is asked each time as before.
"""

from __future__ import annotations

from typing import Any

import fastapi.dependencies.utils as _fastapi_utils

_asked = _fastapi_utils.field_annotation_is_sequence  # type: ignore[attr-defined]
_known: dict[Any, bool] = {}


def _remembered(annotation: Any) -> bool:
    try:
        return _known[annotation]
    except KeyError:
        answer = _known[annotation] = _asked(annotation)
        return answer
    except TypeError:  # unhashable: nothing to remember it by
        return _asked(annotation)


def install() -> None:
    """Idempotent; called by ``api.app.create_app``."""
    _fastapi_utils.field_annotation_is_sequence = _remembered  # type: ignore[attr-defined]
