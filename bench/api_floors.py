"""The API benchmark's floors: for each route, what any server answering it must at least do in
this process, measured through the same uvicorn as the route and its ceiling.

A floor is captured from one real request: the route is called once in-process (through the ASGI
app, nothing else running) while every driver cursor the pool hands out records each statement
sent through it and its parameters, and SQLAlchemy's commit and rollback events where each
transaction ended. The floor endpoint then sends the same statements through the pool's raw
DB-API connection, in or out of a transaction as the route did, commits, and answers with the
ceiling's body from memory: no validation, routing, middleware, ORM, decoding, view or JSON
encoding. For POST, each replay gets a new case id and new random hex values (token hash, nonce,
event hashes), so the rows it writes are new rows, as a real open's are.

The second floor of a read (``?decode=true``) also decodes the JSON texts the rows hold
(``decoded``) before answering from memory: the least work to answer from those rows.

So a floor's rate over the ceiling's is meant as the most any implementation of the route can
reach in this server on this database with these statements. Where a floor measures at or below
its route (PostgreSQL's GET, bench/README.md 2026-12-04), something the floor pays that the route
does not weighs more than what the route adds, and that floor bounds nothing.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic_core import from_json
from sqlalchemy import Engine, event
from sqlalchemy.pool.base import _ConnectionFairy

from casework.cases.ids import new_case_id

_CASE_ID = re.compile(r"cs_[0-9A-Z]{26}")
#: The transactions' ends, which reach the driver as its connection's methods, not as statements.
_ENDS = {"<commit>": "commit", "<rollback>": "rollback"}
#: A statement sent with ``executemany``: its parameters are (statement, list of parameter sets).
_MANY = "<executemany>"
_HEX = re.compile(r"(?:[0-9a-f]{32}|[0-9a-f]{64})")


@dataclass
class Floor:
    """One route's captured statements (text, parameters), replayed by ``run``."""

    statements: list[tuple[str, Any]] = field(default_factory=list)
    #: Whether each replay writes new rows (a POST): case ids and random hex values are renewed.
    fresh: bool = False
    #: The driver connection's ``autocommit`` when the route sent its first statement, where the
    #: driver has one (psycopg: a read outside a transaction sends no BEGIN and COMMIT round trips).
    autocommit: bool | None = None

    def run(self, engine: Engine) -> list[Any]:
        """Send the statements, end the transactions where the route did, and commit what is left
        open; the rows of the last statement that returned any."""
        raw = engine.raw_connection()
        rows: list[Any] = []
        driver = raw.driver_connection
        try:
            if self.autocommit is not None:
                driver.autocommit = self.autocommit  # type: ignore[union-attr]
            cursor = raw.cursor()
            renew = _renewer() if self.fresh else _same
            for statement, params in self.statements:
                if statement in _ENDS:
                    getattr(raw, _ENDS[statement])()
                elif statement == _MANY:
                    cursor.executemany(params[0], [renew(p) for p in params[1]])
                else:
                    cursor.execute(statement, *(() if params is None else (renew(params),)))
                if statement not in _ENDS and cursor.description is not None:
                    rows = list(cursor.fetchall()) or rows
            cursor.close()
            raw.commit()
        finally:
            if self.autocommit:
                driver.autocommit = False  # type: ignore[union-attr]  # as the pool lent it
            raw.close()
        return rows


def decoded(rows: list[Any]) -> list[list[Any]]:
    """``rows`` with each JSON text in them decoded: the least a route does to answer from what
    these rows hold (its answer is then still to be computed and encoded)."""
    return [[_decoded(value) for value in row] for row in rows]


def _decoded(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "[", '"'):
        return from_json(value)
    return value


async def capture(app: FastAPI, engine: Engine, request: Mapping[str, Any]) -> Floor:
    """The statements one real ``request`` ({"method", "path", "headers", "json"}) sends, its
    transactions' beginnings and ends included; call it when no other request is running, and after
    one such request: a first one's one-time work (the instance's link secret) would be replayed."""
    floor = Floor(fresh=request["method"] == "POST")

    def ended(how: str) -> Callable[[Any], None]:
        return lambda _conn: floor.statements.append((how, None))

    ends = {name: ended(marker) for marker, name in _ENDS.items()}
    for name, listener in ends.items():
        event.listen(engine, name, listener)
    try:
        with _recording_cursors(floor):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://floor") as client:
                response = await client.request(
                    request["method"],
                    request["path"],
                    headers=request.get("headers"),
                    json=request.get("json"),
                )
    finally:
        for name, listener in ends.items():
            event.remove(engine, name, listener)
    response.raise_for_status()
    return floor


@contextmanager
def _recording_cursors(floor: Floor) -> Iterator[None]:
    """Every driver cursor a pooled connection hands out, in this process, notes what it is sent
    into ``floor.statements`` (and the driver's ``autocommit`` at the first) while the block runs:
    SQLAlchemy's executions and the statements the query layer sends through the driver's cursor
    itself (``casework.queries.case_read``), which SQLAlchemy's execution events do not see.
    Patches the pool's connection proxy class: run nothing else meanwhile."""
    original = _ConnectionFairy.cursor

    def cursor(self: _ConnectionFairy, *args: Any, **kwargs: Any) -> Any:
        return _RecordingCursor(original(self, *args, **kwargs), floor)

    _ConnectionFairy.cursor = cursor  # type: ignore[method-assign]
    try:
        yield
    finally:
        _ConnectionFairy.cursor = original  # type: ignore[method-assign]


class _RecordingCursor:
    """A driver cursor that notes each statement and its parameters in ``floor`` before sending it
    (and, at the floor's first, the driver connection's ``autocommit``)."""

    def __init__(self, cursor: Any, floor: Floor) -> None:
        self._cursor = cursor
        self._floor = floor

    def execute(self, statement: str, *args: Any, **kwargs: Any) -> Any:
        if not self._floor.statements:
            autocommit = getattr(self._cursor.connection, "autocommit", None)
            self._floor.autocommit = autocommit if isinstance(autocommit, bool) else None
        self._floor.statements.append((statement, args[0] if args else None))
        return self._cursor.execute(statement, *args, **kwargs)

    def executemany(self, statement: str, params: Any, *args: Any, **kwargs: Any) -> Any:
        params = list(params)
        self._floor.statements.append((_MANY, (statement, params)))
        return self._cursor.executemany(statement, params, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cursor)


def _same(params: Any) -> Any:
    return params


def _renewer() -> Callable[[Any], Any]:
    """One replay's renewal of parameters: the same value gets the same replacement throughout."""
    renewed: dict[str, str] = {}
    return lambda params: _renewed(params, renewed)


def _renewed(params: Any, renewed: dict[str, str]) -> Any:
    """``params`` (a tuple or a mapping) with each case id and random hex value replaced, the same
    value by the same replacement within one replay."""
    if isinstance(params, Mapping):
        return {k: _fresh(v, renewed) for k, v in params.items()}
    if isinstance(params, Sequence) and not isinstance(params, str):
        return tuple(_fresh(v, renewed) for v in params)
    return params


def _fresh(value: Any, renewed: dict[str, str]) -> Any:
    if not isinstance(value, str):
        return value
    if value not in renewed:
        if _CASE_ID.fullmatch(value):
            renewed[value] = new_case_id(datetime.now(UTC))
        elif _HEX.fullmatch(value):
            renewed[value] = secrets.token_hex(len(value) // 2)
        else:
            return value
    return renewed[value]
