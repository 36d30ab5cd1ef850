"""`lifeline serve`: the HTTP API (uvicorn) and an embedded escalation worker in one process.

On SQLite (one machine, the default) the database is migrated on start, so a first `lifeline serve`
just works. On PostgreSQL, where several processes share the database, a schema that is behind is
refused with a message naming `lifeline db upgrade`: migrations are a deliberate step there.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import threading
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from casework.settings import get_settings
from cli.apps import app
from cli.common import fail, prepare_database
from cli.http_protocol import ProblemH11Protocol
from cli.log_output import log_to_stderr
from models.db import make_engine, normalize_url, session_scope

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("lifeline.serve")


def bind_listener(host: str, port: int) -> socket.socket:
    """The listening socket of ``host:port``, bound now so that a busy port (or an unknown host)
    stops ``serve`` with exit 2 and a clear message before anything is written to the database."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror}")
    listener = socket.socket(family, kind, proto)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address)
    except OSError as exc:
        listener.close()
        hint = "; another server is using it: stop it or choose another with --port (make run PORT=...)"
        busy = exc.errno == errno.EADDRINUSE
        fail(f"cannot listen on {host}:{port}: {exc.strerror}" + (hint if busy else ""))
    listener.listen(2048)
    return listener


def _start_worker(database_url: str, stop: threading.Event) -> threading.Thread:
    from flows.worker import run_worker  # imports Prefect (~2 s) and applies its defaults

    def run() -> None:
        try:
            run_worker(database_url, stop)
        except Exception:
            log.exception("the embedded escalation worker stopped; the API keeps serving")

    thread = threading.Thread(target=run, name="lifeline-worker", daemon=True)
    thread.start()
    return thread


def _demo_webhooks(web_app: FastAPI, database_url: str, base_url: str) -> None:
    """Without a channels file of one's own, send every channel the policies notify to the demo's
    receiver on this server (cli.demo_receiver), so the demo's notifications are delivered, not dead.
    Call it before the embedded worker starts: the worker reads LIFELINE_CHANNELS_FILE then."""
    if get_settings().channels_file is not None:
        return
    from casework.registry.channel_names import notified_channels
    from cli.demo_receiver import HOOKS_PATH, channels_file_beside, router, write_channels_file

    engine = make_engine(database_url)
    try:
        with session_scope(engine, write=False) as session:
            channels = notified_channels(session)
    finally:
        engine.dispose()
    path = channels_file_beside(database_url)
    web_app.include_router(router(write_channels_file(path, base_url, channels)))
    os.environ["LIFELINE_CHANNELS_FILE"] = str(path)  # the embedded worker reads it at start
    typer.echo(f"  Webhooks:   {len(channels)} channels -> {base_url}{HOOKS_PATH}/<channel> ({path})")
    typer.echo(f"              received: curl -H 'Authorization: Bearer <key>' {base_url}{HOOKS_PATH}")


def _stop_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    """SIGTERM ends ``serve`` as Ctrl-C does: by an exception, so the worker is stopped and joined and
    the exit handlers run (they stop Prefect's temporary server, a process of its own). uvicorn
    handles SIGTERM while it serves, then raises it again once it has shut down; with the default
    handler that killed the process there and then, leaving Prefect's server running."""
    log.info("%s received: stopping", signal.Signals(signum).name)
    raise SystemExit(0)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to bind.")] = 8000,
    demo: Annotated[
        bool, typer.Option("--demo", help="Register bundled policies, open demo cases and print a key first.")
    ] = False,
    worker: Annotated[
        bool, typer.Option("--worker/--no-worker", help="Run the escalation worker in this process.")
    ] = True,
) -> None:
    """Start the HTTP API and an embedded escalation worker on one process (Ctrl-C stops both).

    The database is LIFELINE_DATABASE_URL (default: the SQLite file ./lifeline.sqlite)."""
    import uvicorn

    from api.app import create_app
    from console.app import install as install_console

    log_to_stderr()
    listener = bind_listener(host, port)  # a busy port fails here, before the database is touched
    url = get_settings().database_url
    prepare_database(url)
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base_url = f"http://{shown_host}:{port}"
    web_app = install_console(create_app())
    if demo:
        from cli.demo_command import print_demo, run_demo  # imported when used: it loads the policies
        from console.login import login_link_path

        result = run_demo(url)
        print_demo(result, base_url)
        typer.echo(f"  Console:    {base_url}/console/  (sign in with the agent key)")
        if worker:  # without one nothing here delivers: a worker elsewhere has its own channels file
            _demo_webhooks(web_app, url, base_url)
        key_id = result.key.id if result.key is not None else result.existing_key_id
        if key_id is not None:
            link = base_url + login_link_path(web_app.state, key_id)
            typer.echo(f"  Signed in:  {link}   (one-time link for the demo agent, valid 15 minutes)")
        typer.echo("")
    stop = threading.Event()
    thread = _start_worker(url, stop) if worker else None
    where = normalize_url(url).render_as_string(hide_password=True)
    typer.echo(f"Lifeline API on {base_url} (docs: {base_url}/docs), database {where}")
    typer.echo(f"Console: {base_url}/console/")
    typer.echo("Escalation worker: " + ("embedded (sweeps now; Prefect joins when up)" if worker else "off"))
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        config = uvicorn.Config(
            web_app,
            host=host,
            port=port,
            log_level="info",
            server_header=False,
            http=ProblemH11Protocol,
        )
        uvicorn.Server(config).run(sockets=[listener])
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=15)
