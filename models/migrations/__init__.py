"""Alembic migrations, run in code by models.migrate (there is no alembic.ini)."""
