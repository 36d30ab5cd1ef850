"""The typer command groups; each command module registers its commands on one of these.

Command modules are split by owner concept (policy files, the registry, simulation, database, keys,
serving, audit) so each stays short; ``cli.main`` imports them all for their side effect.
"""

import typer

from casework.settings import get_settings
from cli.common import domain_errors

app = typer.Typer(
    name="lifeline",
    help="Lifeline: SLA case manager for professional creator support.",
    no_args_is_help=True,
    add_completion=False,
)
policies_app = typer.Typer(
    help="Validate, lint, simulate, apply and list escalation policies.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)
keys_app = typer.Typer(help="Create and revoke API keys.", no_args_is_help=True)
cases_app = typer.Typer(help="Read cases as the API shows them; act on many at once.", no_args_is_help=True)
audit_app = typer.Typer(help="Verify hash chains and replays; export case histories.", no_args_is_help=True)
notifications_app = typer.Typer(
    help="Recover notifications that could not be delivered.", no_args_is_help=True
)
reports_app = typer.Typer(help="Compliance reports: maintain their roll-ups.", no_args_is_help=True)


@app.callback()
def _settings_checked() -> None:
    """Before any command: a LIFELINE_* variable its setting refuses is an exit 2 naming it
    (``casework.errors.SettingsInvalid``), not a traceback."""
    with domain_errors():
        get_settings()


app.add_typer(policies_app, name="policies")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(cases_app, name="cases")
app.add_typer(notifications_app, name="notifications")
app.add_typer(reports_app, name="reports")
