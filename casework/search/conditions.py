"""Finding cases by their creator and by words: the WHERE clauses of ``GET /v1/cases?creator=``,
``handle=`` and ``q=``, each database with its own index (revision 0007).

- ``creator`` / ``handle``: equality on ``attributes.creator.id`` / ``.handle``, through an
  expression index (SQLite ``json_extract``; PostgreSQL ``lifeline_json_text``, which reads a
  document holding an escaped NUL as NULL rather than failing).
- ``q``: full-text search over the case's summary and its public messages (``replied`` events):
  every word of ``q`` must appear in the summary or in one message, case and accents folded. SQLite
  matches the FTS5 table ``case_search`` (kept by triggers); PostgreSQL matches
  ``to_tsvector('simple', ...)`` through GIN expression indexes. Words are runs of letters and
  digits; the rest of ``q`` separates them.

The clauses are SQL constructs compiled per dialect, so a statement built once (the listing caches
its statements by filter shape) runs on either database; their values are bind parameters.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import BindParameter, Boolean, String, bindparam
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from casework.errors import InvalidAction

#: The longest ``q`` accepted, and the most words it may hold.
MAX_QUERY = 200
MAX_WORDS = 16
_WORD = re.compile(r"\w+")


class CreatorField(ColumnElement[str]):
    """``cases.attributes.creator.<name>`` as text (``id`` or ``handle``: the indexed ones)."""

    inherit_cache = True
    type = String()
    _traverse_internals = [("name", InternalTraversal.dp_string)]

    def __init__(self, name: str) -> None:
        self.name = name


@compiles(CreatorField, "sqlite")
def _creator_sqlite(element: CreatorField, compiler: SQLCompiler, **kw: Any) -> str:  # noqa: ARG001
    return f"json_extract(cases.attributes, '$.creator.{element.name}')"


@compiles(CreatorField, "postgresql")
def _creator_postgresql(element: CreatorField, compiler: SQLCompiler, **kw: Any) -> str:  # noqa: ARG001
    return f"lifeline_json_text(cases.attributes, '{{creator,{element.name}}}')"


class TextMatch(ColumnElement[bool]):
    """The case's summary or one of its public messages holds every word of the bound query."""

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [("query", InternalTraversal.dp_clauseelement)]

    def __init__(self, query: BindParameter[str]) -> None:
        self.query = query


@compiles(TextMatch, "sqlite")
def _match_sqlite(element: TextMatch, compiler: SQLCompiler, **kw: Any) -> str:
    query = compiler.process(element.query, **kw)
    return f"cases.id IN (SELECT case_id FROM case_search WHERE case_search MATCH {query})"


_SUMMARY_VECTOR = "to_tsvector('simple', coalesce(lifeline_json_text(cases.attributes, '{summary}'), ''))"
_MESSAGE_VECTOR = "to_tsvector('simple', coalesce(lifeline_json_text(case_events.data, '{message}'), ''))"


@compiles(TextMatch, "postgresql")
def _match_postgresql(element: TextMatch, compiler: SQLCompiler, **kw: Any) -> str:
    # The bound value is FTS5's form ("word" "word"): without the quotes it is plain words.
    words = f"plainto_tsquery('simple', replace({compiler.process(element.query, **kw)}, '\"', ''))"
    return (
        f"({_SUMMARY_VECTOR} @@ {words} OR cases.id IN (SELECT case_events.case_id FROM case_events "
        f"WHERE case_events.kind = 'replied' AND {_MESSAGE_VECTOR} @@ {words}))"
    )


def text_match() -> TextMatch:
    """The ``q`` clause; bind ``q`` to ``search_terms(q)``."""
    return TextMatch(bindparam("q", type_=String()))


def search_terms(q: str) -> str:
    """``q`` as the bound value of ``text_match``: each word quoted (``"hacked" "email"``), so
    nothing in ``q`` is read as query syntax. InvalidAction (naming ``q``) without a word."""
    words = _WORD.findall(q)
    if not words:
        raise InvalidAction("q needs at least one word (letters or digits)", "q")
    if len(words) > MAX_WORDS:
        raise InvalidAction(f"q holds {len(words)} words; at most {MAX_WORDS}", "q")
    return " ".join(f'"{word}"' for word in words)
