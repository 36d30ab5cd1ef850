"""cli/log_output.py: the long-running commands' log lines go to standard error as it is when each
line is written, so a command run in-process (as the tests run it) leaves nothing behind that
writes to a closed stream, and a second command adds no second handler."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.log_output import CurrentStderrHandler, log_to_stderr
from cli.main import app


@pytest.fixture(autouse=True)
def lifeline_logger() -> Iterator[logging.Logger]:
    """The ``lifeline`` logger as it was before the test, afterwards."""
    logger = logging.getLogger("lifeline")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    yield logger
    logger.handlers[:] = handlers
    logger.setLevel(level)
    logger.propagate = propagate


def test_a_line_logged_after_an_in_process_command_reaches_the_stderr_of_that_moment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database, channels = f"sqlite:///{tmp_path / 'x.sqlite'}", str(tmp_path / "missing.json")
    result = CliRunner().invoke(app, ["worker", "--database-url", database, "--channels-file", channels])
    assert result.exit_code == 2 and "missing.json" in result.output, result.output  # after its logging

    logging.getLogger("lifeline.worker").info("a line after the command")  # its stream is closed now

    err = capsys.readouterr().err
    assert "a line after the command" in err and "| INFO    | lifeline.worker - " in err
    assert "Logging error" not in err and "closed file" not in err


def test_a_second_call_adds_no_second_handler(lifeline_logger: logging.Logger) -> None:
    log_to_stderr()
    log_to_stderr()
    assert sum(isinstance(h, CurrentStderrHandler) for h in lifeline_logger.handlers) == 1
    assert lifeline_logger.level == logging.INFO and not lifeline_logger.propagate
