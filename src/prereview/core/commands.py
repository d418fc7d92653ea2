"""Command line of the platform itself: run the server, migrate the database."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from prereview.core.client import console
from prereview.core.errors import PrereviewError
from prereview.core.files import sweep_partials
from prereview.core.migrate import upgrade
from prereview.core.serving import server_config
from prereview.core.settings import load_settings

db_app = typer.Typer(help="The database.", no_args_is_help=True)
maintenance_app = typer.Typer(help="Housekeeping of the server's files.", no_args_is_help=True)
DEMO_ENV = Path("var/demo-tokens.env")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Create or migrate the database named by PREREVIEW_DATABASE_URL."""
    settings = load_settings()
    upgrade(settings.database_url, revision)
    console.print(f"database at revision {revision}")


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    demo: Annotated[
        bool, typer.Option(help="Seed the demo scenario and print its tokens.")
    ] = False,
) -> None:
    """Run the platform's HTTP server."""
    from prereview.api import create_app
    from prereview.core.context import AppContext

    settings = load_settings()
    context = AppContext.create(settings)
    try:
        app = create_app(context=context)
    except PrereviewError as exc:
        console.print(f"[red]error:[/] {exc.detail}")
        raise typer.Exit(1) from None
    if demo:
        from prereview.demo import seed, write_env

        tokens = seed(context)
        # The gateway's part of the demo: an upstream simulator behind /gateway, a key for CAISI.
        from prereview.demo import start_gateway_demo

        start_gateway_demo(context, tokens)  # a daemon thread: it ends with the process
        tokens.ids["GATEWAY_BASE_URL"] = f"http://{host}:{port}/gateway/v1"
        write_env(tokens, DEMO_ENV)
        console.print(
            "[bold]Demo scenario ready.[/] Tokens (valid 7 days), also in " + str(DEMO_ENV) + ":"
        )
        for name, value in tokens.values.items():
            console.print(f"  {name}={value}")
        console.print(
            f"Try: [cyan]source {DEMO_ENV}; PREREVIEW_TOKEN=$DEV_TOKEN prereview submission list[/]"
        )
    swept = sweep_partials(
        settings.blob_dir,
        context.clock.now(),
        timedelta(minutes=settings.partial_upload_grace_minutes),
    )
    if swept:
        console.print(f"swept {len(swept)} aborted upload(s) from {settings.blob_dir}")
    console.print(f"Serving on http://{host}:{port} (API docs at /api/v1/docs)")
    uvicorn.Server(server_config(app, settings, host=host, port=port)).run()


@maintenance_app.command("sweep")
def maintenance_sweep(
    grace_minutes: Annotated[
        int | None,
        typer.Option(
            min=0, help="Sweep partials not written for this long (default: the setting)."
        ),
    ] = None,
) -> None:
    """Delete the .partial blobs that aborted uploads left behind (those not written for the
    grace period, PREREVIEW_PARTIAL_UPLOAD_GRACE_MINUTES, so a live upload is kept)."""
    from prereview.core.clock import SystemClock

    settings = load_settings()
    minutes = settings.partial_upload_grace_minutes if grace_minutes is None else grace_minutes
    swept = sweep_partials(settings.blob_dir, SystemClock().now(), timedelta(minutes=minutes))
    console.print(f"swept {len(swept)} aborted upload(s) from {settings.blob_dir}")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(db_app, name="db")
    app.add_typer(maintenance_app, name="maintenance")
