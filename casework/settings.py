"""Deployment settings, read from the environment (pydantic-settings), shared by the API, the worker
and the command line.

- ``LIFELINE_DATABASE_URL``: default ``sqlite:///./lifeline.sqlite`` (a file in the working directory);
  ``postgresql+psycopg://user@host/db`` for PostgreSQL.
- ``LIFELINE_POLICIES_DIR``: the policies and calendars; default the bundled ``policies/`` directory.
- ``LIFELINE_CHANNELS_FILE``: optional JSON file mapping notification channels to webhooks.
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

import policies

BUNDLED_POLICIES_DIR = Path(policies.__file__).resolve().parent
DEFAULT_DATABASE_URL = "sqlite:///./lifeline.sqlite"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIFELINE_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    policies_dir: Path = BUNDLED_POLICIES_DIR
    channels_file: Path | None = None

    @property
    def calendars_dir(self) -> Path:
        return self.policies_dir / "calendars"


def get_settings() -> Settings:
    """The settings as the environment says now (read on each call: tests and commands may change it)."""
    return Settings()
