"""The channels file: parsed into Channel(name, url, secret), every problem with its pointer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from policies.channels import Channel, check_channels_file, load_channels
from policies.diagnostics import PolicyError
from tests.policies.conftest import CHANNELS_EXAMPLE, write_json


def test_the_sample_file_loads_and_secrets_stay_out_of_reprs() -> None:
    channels = load_channels(CHANNELS_EXAMPLE)
    lead = channels["support-leads"]
    assert lead == Channel("support-leads", "http://127.0.0.1:9999/hooks/support-leads", lead.secret)
    assert lead.secret and lead.secret not in repr(lead)


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ([], [("", "expected an object with a 'channels' field, got an array")]),
        ({}, [("", "missing required field 'channels'")]),
        (
            {"channels": [], "extra": 1},
            [("/extra", "unknown field 'extra'"), ("/channels", "expected an object")],
        ),
        (
            {"channels": {"Leads": {"url": "http://x", "secret": "s"}}},
            [("/channels/Leads", "not a channel name")],
        ),
        (
            {"channels": {"leads": "http://x"}},
            [("/channels/leads", "expected an object with url and secret")],
        ),
        (
            {"channels": {"leads": {"url": "ftp://x/y", "secret": "s"}}},
            [("/channels/leads/url", "not an http")],
        ),
        (
            {"channels": {"leads": {"url": "http://x"}}},
            [("/channels/leads", "missing required field 'secret'")],
        ),
        (
            {"channels": {"leads": {"url": "http://x", "secret": ""}}},
            [("/channels/leads/secret", "non-empty")],
        ),
        (
            {"channels": {"leads": {"url": "http://x", "secret": "s", "token": "t"}}},
            [("/channels/leads/token", "unknown field 'token'")],
        ),
    ],
)
def test_channel_file_errors(tmp_path: Path, doc: Any, expected: list[tuple[str, str]]) -> None:
    result = check_channels_file(write_json(tmp_path / "channels.json", doc))
    assert result.value is None
    found = [(d.pointer, d.message) for d in result.diagnostics]
    assert [p for p, _ in found] == [p for p, _ in expected]
    assert all(m in got for (_, m), (_, got) in zip(expected, found, strict=True)), found


def test_load_channels_raises_policy_error(tmp_path: Path) -> None:
    path = tmp_path / "channels.json"
    path.write_text("{")
    with pytest.raises(PolicyError, match="line 1, column 2"):
        load_channels(path)
