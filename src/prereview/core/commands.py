"""Command line of the platform itself: migrate the database, sweep aborted uploads."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from prereview.core.client import console
from prereview.core.clock import SystemClock  # light, and here so a test can pin the clock

# The database, Alembic and the settings are imported inside each command, so that
# `prereview --help` and the commands that only talk to a server do not load them.

db_app = typer.Typer(help="The database.", no_args_is_help=True)
maintenance_app = typer.Typer(help="Housekeeping of the server's files.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Create or migrate the database named by PREREVIEW_DATABASE_URL."""
    from prereview.core.migrate import upgrade
    from prereview.core.settings import load_settings

    settings = load_settings()
    upgrade(settings.database_url, revision)
    console.print(f"database at revision {revision}", markup=False)


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
    from prereview.core.files import sweep_partials
    from prereview.core.settings import load_settings

    settings = load_settings()
    minutes = settings.partial_upload_grace_minutes if grace_minutes is None else grace_minutes
    swept = sweep_partials(settings.blob_dir, SystemClock().now(), timedelta(minutes=minutes))
    console.print(f"swept {len(swept)} aborted upload(s) from {settings.blob_dir}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.add_typer(maintenance_app, name="maintenance")
