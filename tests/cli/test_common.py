"""The command line's one table of domain errors to exit codes, and its one way of failing."""

from __future__ import annotations

import pytest
import typer

from casework.errors import (
    ApiKeyNameTaken,
    CaseNotFound,
    DuplicateTimedEvent,
    StaleVersion,
    StoredPolicyUnreadable,
)
from cli.common import domain_errors, exit_code_of, fail, open_database
from models.db import TransactionConflict
from models.migrate import SchemaBehind
from sla_engine.kinds import ActionName, Status
from sla_engine.transitions import ForbiddenTransition


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (CaseNotFound("cs_1"), 2),
        (ApiKeyNameTaken("ana"), 2),
        (ForbiddenTransition(ActionName.RESOLVE, Status.CLOSED), 2),
        (SchemaBehind("behind"), 2),
        (StaleVersion("cs_1", 1, 2), 75),
        (DuplicateTimedEvent("cs_1"), 75),
        (TransactionConflict("a deadlock with a concurrent transaction"), 75),
        (StoredPolicyUnreadable("calendar gone"), 1),
        (KeyError("x"), None),
    ],
)
def test_each_domain_error_has_its_exit_code(error: Exception, code: int | None) -> None:
    assert exit_code_of(error) == code


def test_domain_errors_exit_with_the_message_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as stale, domain_errors():
        raise StaleVersion("cs_1", 1, 2)

    assert stale.value.exit_code == 75
    assert capsys.readouterr().err == (
        "error: case cs_1 is at version 2, expected version 1: read it again and retry\n"
    )


def test_other_errors_are_not_swallowed() -> None:
    with pytest.raises(KeyError), domain_errors():
        raise KeyError("x")


def test_fail_defaults_to_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as failed:
        fail("--from must be before --to")

    assert failed.value.exit_code == 2
    assert capsys.readouterr().err == "error: --from must be before --to\n"


def test_an_unreadable_database_url_exits_2_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as failed, open_database("nosuchdriver://x/y"):
        pass

    assert failed.value.exit_code == 2
    assert "cannot open the database" in capsys.readouterr().err
