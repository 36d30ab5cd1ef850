"""``id_sets.among``: the rows whose column is among the values, on either backend, and on
PostgreSQL one statement text whatever the number of values (psycopg and the server parse it once)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import col, select

from casework.history.id_sets import among, pairs_among
from models.tables import Case
from tests.casework.builders import at, open_one, register


def test_the_rows_among_the_values_and_one_text_for_any_count(engine: Engine) -> None:
    register(engine)
    ids = [open_one(engine, now=at(minute)).case.id for minute in range(5)]
    dialect = engine.dialect.name
    texts = set()
    with engine.connect() as connection:
        for wanted in (ids[:2], ids[1:], {ids[0], ids[4], "no-such-case"}, []):
            query = select(col(Case.id)).where(among(col(Case.id), wanted, dialect))
            texts.add(str(query.compile(dialect=engine.dialect)))
            assert sorted(connection.execute(query).scalars()) == sorted(set(wanted) & set(ids))
    assert len(texts) == 1 or dialect == "sqlite"  # SQLite's IN renders at execution, per count
    assert isinstance(among(col(Case.id), ids, "sqlite"), sa.BinaryExpression)


def test_the_rows_whose_pair_of_columns_is_among_the_pairs(engine: Engine) -> None:
    register(engine)
    ids = [open_one(engine, now=at(minute)).case.id for minute in range(4)]
    dialect = engine.dialect.name
    with engine.connect() as connection:
        for wanted in (
            [(ids[0], 1), (ids[1], 1)],
            [(ids[2], 1), (ids[3], 2), ("no-such-case", 1)],  # only the first: each case has one version
            [(i, 1) for i in ids],
        ):
            query = select(col(Case.id), col(Case.version)).where(
                pairs_among(col(Case.id), col(Case.version), wanted, dialect)
            )
            assert sorted(connection.execute(query).tuples()) == sorted(
                p for p in wanted if p[0] in ids and p[1] == 1
            )
