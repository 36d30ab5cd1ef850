"""Entry point of the `lifeline` console script."""

from cli import db_commands, policy_commands, serve_commands, worker_command  # noqa: F401  (registers commands)
from cli.apps import app

__all__ = ["app"]

if __name__ == "__main__":
    app()
