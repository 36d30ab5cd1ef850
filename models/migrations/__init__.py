"""Alembic migrations, run in code by models.schema (there is no alembic.ini)."""
