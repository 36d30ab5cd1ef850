"""SQLModel tables, the database engine and session, and the Alembic migrations."""
