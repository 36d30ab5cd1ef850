"""`lifeline serve`: the API with an embedded worker (built by the API issue)."""

import typer

from cli.apps import app


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8000, help="Port to bind."),
    demo: bool = typer.Option(False, "--demo", help="Register bundled policies and open demo cases first."),
) -> None:
    """Start the HTTP API and an embedded escalation worker on one process."""
    typer.echo("lifeline serve: not built yet (the HTTP API lands with its own issue).")
