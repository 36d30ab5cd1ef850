"""The JSON columns' codec (models.json_codec): every JSON value reads back as the standard
library reads it, whether it was written by this codec or by ``json.dumps`` before it, on SQLite and
PostgreSQL, and what msgspec cannot handle takes the standard library's path."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import Engine

from models import json_codec

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()  # any size: a follower count, an id beyond 64 bits
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(JSON_VALUES)
@example({"creator": {"handle": "@ünï 💥", "followers": 2**80}, "ratio": 1e16, "tiny": 1.5e-07})
@example("\ud800 a lone surrogate")
def test_a_value_reads_back_as_the_standard_library_reads_it(value: Any) -> None:
    text = json_codec.dumps(value)
    assert json_codec.loads(text) == json.loads(text) == json.loads(json.dumps(value))


@given(JSON_VALUES)
def test_text_written_before_the_codec_reads_as_it_always_did(value: Any) -> None:
    old = json.dumps(value)
    assert json_codec.loads(old) == json.loads(old)
    assert json_codec.loads(old.encode()) == json_codec.loads(memoryview(old.encode())) == json.loads(old)


def test_text_only_the_standard_library_reads_takes_its_path() -> None:
    value = json_codec.loads('{"score": NaN, "big": 1e400}')
    assert math.isnan(value["score"]) and value["big"] == math.inf


def test_a_value_msgspec_cannot_encode_raises_as_json_dumps_raises() -> None:
    class Opaque:
        pass

    try:
        json_codec.dumps({"x": Opaque()})
    except TypeError as error:
        assert "Opaque" in str(error)
    else:
        raise AssertionError("an object JSON has no form for was encoded")


def test_tuples_and_nested_documents_are_stored_as_json_dumps_would_store_them() -> None:
    value = {"stage": {"index": 2, "due_at": datetime(2026, 12, 4, tzinfo=UTC).isoformat()}, "ids": (1, 2)}
    assert json.loads(json_codec.dumps(value)) == json.loads(json.dumps(value))


def test_a_json_column_keeps_documents_of_both_writers_on_either_backend(engine: Engine) -> None:
    """Rows written by the engine (this codec) and rows holding ``json.dumps`` text (written before
    it) read back equal to what was stored, through the same column type."""
    table = sa.Table(
        "codec_probe", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("doc", sa.JSON)
    )
    document = {
        "name": "Ada ✓",
        "followers": 2**70,
        "nested": [{"at": "2026-12-04T00:00:00+00:00"}, None, 0.1],
    }
    table.create(engine)
    try:
        with engine.begin() as connection:
            connection.execute(table.insert(), [{"id": 1, "doc": document}])
            raw = sa.text("INSERT INTO codec_probe (id, doc) VALUES (2, :doc)")
            if engine.dialect.name == "postgresql":
                raw = sa.text("INSERT INTO codec_probe (id, doc) VALUES (2, CAST(:doc AS JSON))")
            connection.execute(raw, {"doc": json.dumps(document)})
        with engine.connect() as connection:
            rows = dict(connection.execute(sa.select(table.c.id, table.c.doc)).all())
        assert rows == {1: document, 2: document}
    finally:
        table.drop(engine)
