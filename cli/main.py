"""Entry point of the `lifeline` console script."""

from cli import (  # noqa: F401  (registers commands)
    audit_commands,
    bulk_command,
    case_commands,
    db_commands,
    demo_command,
    keys_commands,
    lifecycle_commands,
    notification_commands,
    policy_commands,
    registry_commands,
    report_commands,
    serve_commands,
    simulate_command,
    worker_command,
)
from cli.apps import app

__all__ = ["app"]

if __name__ == "__main__":
    app()
