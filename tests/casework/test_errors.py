"""The services' errors cross process boundaries intact (the SQLite sweep's lanes send theirs to
the worker): every one pickles to the same class, message and attributes."""

from __future__ import annotations

import inspect
import pickle
from typing import Any

import pytest

from casework import errors


def _all_errors() -> list[type[errors.CaseworkError]]:
    found = [errors.CaseworkError]
    for cls in found:
        found.extend(cls.__subclasses__())
    return [cls for cls in found if cls.__module__ == errors.__name__]


def _sample(annotation: str) -> Any:
    """A value of the parameter's annotated type, enough to build the error."""
    if annotation.startswith("int"):
        return 3
    if annotation.startswith(("list", "Sequence", "tuple")):
        return ["a", "b"]
    if annotation.startswith(("dict", "Mapping")):
        return {"a": 1}
    return "x"


def _build(cls: type[errors.CaseworkError]) -> errors.CaseworkError:
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    wanted = [
        p for p in parameters if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    return cls(**{p.name: _sample(str(p.annotation)) for p in wanted})


@pytest.mark.parametrize("cls", _all_errors(), ids=lambda cls: cls.__name__)
def test_every_domain_error_pickles_to_the_same_error(cls: type[errors.CaseworkError]) -> None:
    error = _build(cls)

    again = pickle.loads(pickle.dumps(error))

    assert type(again) is cls
    assert str(again) == str(error) and again.args == error.args
    assert vars(again) == vars(error)
