"""Cases beyond one: bulk actions' idempotency records (``bulk_requests``), links between cases (parent and child, related, duplicate, merged), the
creator's cases by ``attributes.creator.id`` and ``.handle``, and full-text search over a case's
summary and its public messages (``replied`` events).

Search is each database's own: on SQLite an FTS5 table ``case_search`` kept by triggers (a
summary's row has the negated id of the case's ``opened`` event as rowid, a message's row its
event's id, so both are found by rowid); on PostgreSQL GIN expression indexes over
``to_tsvector('simple', ...)``. casework.search reads them with the same expressions.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE = [
    "CREATE INDEX ix_cases_creator_id ON cases (json_extract(attributes, '$.creator.id'))",
    "CREATE INDEX ix_cases_creator_handle ON cases (json_extract(attributes, '$.creator.handle'))",
    "CREATE VIRTUAL TABLE case_search USING fts5(case_id UNINDEXED, body, "
    "tokenize = 'unicode61 remove_diacritics 2')",
    """CREATE TRIGGER case_search_opened AFTER INSERT ON case_events
    WHEN new.kind = 'opened' AND json_type(new.data, '$.attributes.summary') = 'text'
    BEGIN
        INSERT INTO case_search (rowid, case_id, body)
        VALUES (-new.id, new.case_id, json_extract(new.data, '$.attributes.summary'));
    END""",
    """CREATE TRIGGER case_search_replied AFTER INSERT ON case_events
    WHEN new.kind = 'replied' AND json_type(new.data, '$.message') = 'text'
    BEGIN
        INSERT INTO case_search (rowid, case_id, body)
        VALUES (new.id, new.case_id, json_extract(new.data, '$.message'));
    END""",
    """CREATE TRIGGER case_search_summary AFTER UPDATE OF attributes ON cases
    WHEN json_extract(old.attributes, '$.summary') IS NOT json_extract(new.attributes, '$.summary')
    BEGIN
        DELETE FROM case_search
        WHERE rowid = -(SELECT id FROM case_events WHERE case_id = new.id AND seq = 1);
        INSERT INTO case_search (rowid, case_id, body)
        SELECT -e.id, new.id, json_extract(new.attributes, '$.summary')
        FROM case_events e
        WHERE e.case_id = new.id AND e.seq = 1 AND json_type(new.attributes, '$.summary') = 'text';
    END""",
    """INSERT INTO case_search (rowid, case_id, body)
    SELECT -e.id, c.id, json_extract(c.attributes, '$.summary')
    FROM cases c JOIN case_events e ON e.case_id = c.id AND e.seq = 1
    WHERE json_type(c.attributes, '$.summary') = 'text'""",
    """INSERT INTO case_search (rowid, case_id, body)
    SELECT id, case_id, json_extract(data, '$.message') FROM case_events
    WHERE kind = 'replied' AND json_type(data, '$.message') = 'text'""",
]

#: ``doc #>> path``, or NULL for a document holding an escaped NUL (``\\u0000``), which PostgreSQL's
#: json operators refuse to extract (an index over them would refuse the row): one function, so the
#: indexes and casework.search use the same expression.
JSON_TEXT = """CREATE FUNCTION lifeline_json_text(doc json, path text[]) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN strpos(doc::text, '\\u0000') > 0 THEN NULL ELSE doc #>> path END $$"""

POSTGRESQL = [
    JSON_TEXT,
    "CREATE INDEX ix_cases_creator_id ON cases (lifeline_json_text(attributes, '{creator,id}'))",
    "CREATE INDEX ix_cases_creator_handle ON cases (lifeline_json_text(attributes, '{creator,handle}'))",
    "CREATE INDEX ix_cases_search ON cases "
    "USING gin (to_tsvector('simple', coalesce(lifeline_json_text(attributes, '{summary}'), '')))",
    "CREATE INDEX ix_case_events_search ON case_events "
    "USING gin (to_tsvector('simple', coalesce(lifeline_json_text(data, '{message}'), ''))) "
    "WHERE kind = 'replied'",
]

SQLITE_DOWN = [
    "DROP TRIGGER case_search_summary",
    "DROP TRIGGER case_search_replied",
    "DROP TRIGGER case_search_opened",
    "DROP TABLE case_search",
    "DROP INDEX ix_cases_creator_handle",
    "DROP INDEX ix_cases_creator_id",
]

POSTGRESQL_DOWN = [
    "DROP INDEX ix_case_events_search",
    "DROP INDEX ix_cases_search",
    "DROP INDEX ix_cases_creator_handle",
    "DROP INDEX ix_cases_creator_id",
    "DROP FUNCTION lifeline_json_text(json, text[])",
]


def upgrade() -> None:
    op.create_table(
        "case_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("other_case_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["other_case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "other_case_id", name="uq_case_links_pair"),
    )
    op.create_index("ix_case_links_other_case_id", "case_links", ["other_case_id"])
    op.create_table(
        "bulk_requests",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    for statement in SQLITE if op.get_bind().dialect.name == "sqlite" else POSTGRESQL:
        op.execute(statement)


def downgrade() -> None:
    for statement in SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else POSTGRESQL_DOWN:
        op.execute(statement)
    op.drop_table("bulk_requests")
    op.drop_index("ix_case_links_other_case_id", table_name="case_links")
    op.drop_table("case_links")
