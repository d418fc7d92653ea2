"""The ``prereview serve`` command: build the app, seed the demo if asked, run uvicorn."""

from __future__ import annotations

import gc
import json
import shlex
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from prereview.core.client import console, escape

DEMO_ENV = Path("var/demo-tokens.env")


def demo_hint(env_file: Path, bin_dir: Path) -> list[str]:
    """The shell lines that put the demo's tokens and the ``prereview`` command in a fresh
    shell, then run one command as the developer."""
    return [
        f"source {shlex.quote(str(env_file))}",
        f'export PATH={shlex.quote(str(bin_dir))}:"$PATH"',
        "PREREVIEW_TOKEN=$DEV_TOKEN prereview submission list",
    ]


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    demo: Annotated[
        bool, typer.Option(help="Seed the demo scenario and print its tokens.")
    ] = False,
) -> None:
    """Run the platform's HTTP server."""
    # Imported here: building the app loads every capability (and uvicorn), which other
    # commands, and `prereview --help`, need not.
    import uvicorn

    from prereview.api import create_app
    from prereview.core.context import AppContext
    from prereview.core.errors import PrereviewError
    from prereview.core.files import sweep_partials
    from prereview.core.settings import load_settings
    from prereview.server.connections import server_config

    settings = load_settings()
    context = AppContext.create(settings)
    try:
        app = create_app(context=context)
    except PrereviewError as exc:
        console.print(f"[red]error:[/] {escape(exc.detail)}")
        raise typer.Exit(1) from None
    if demo:
        from prereview.demo import seed, write_env

        tokens = seed(context)
        # The gateway's part of the demo: an upstream simulator behind /gateway, a key for CAISI.
        from prereview.demo import start_gateway_demo

        start_gateway_demo(context, tokens)  # a daemon thread: it ends with the process
        tokens.ids["GATEWAY_BASE_URL"] = f"http://{host}:{port}/gateway/v1"
        # Two witnesses on loopback cosign the demo's checkpoints; the tour's client needs both.
        from prereview.witness.local import start_demo_witnesses

        # A fresh folder per run: a reseeded demo log must not meet last run's witnesses.
        folder = Path(tempfile.mkdtemp(prefix="prereview-demo-witnesses-"))
        witnesses = start_demo_witnesses(settings, folder)
        keys = json.dumps([w.verifier_key for w in witnesses])
        tokens.ids["PREREVIEW_AUDIT_WITNESS_KEYS"] = shlex.quote(keys)
        tokens.ids["PREREVIEW_AUDIT_MIN_WITNESSES"] = str(len(witnesses))
        for witness in witnesses:
            console.print(
                f"witness {witness.verifier_key} at {witness.url}", markup=False, soft_wrap=True
            )
        write_env(tokens, DEMO_ENV)
        console.print(
            "[bold]Demo scenario ready.[/] Tokens (valid 7 days), also in " + str(DEMO_ENV) + ":"
        )
        for name, value in tokens.values.items():
            console.print(f"  {name}={value}", markup=False)
        # Absolute paths: the hint must work in a fresh shell, from any directory, without the
        # virtual environment activated (the `prereview` next to this Python is the one).
        console.print("Try, in another terminal:")
        for line in demo_hint(DEMO_ENV.resolve(), Path(sys.executable).parent):
            console.print(f"  {line}", markup=False, highlight=False)
    swept = sweep_partials(
        settings.blob_dir,
        context.clock.now(),
        timedelta(minutes=settings.partial_upload_grace_minutes),
    )
    if swept:
        console.print(
            f"swept {len(swept)} aborted upload(s) from {settings.blob_dir}", markup=False
        )
    console.print(f"Serving on http://{host}:{port} (API docs at /api/v1/docs)", markup=False)
    # The app, its capabilities and Inspect AI are long-lived: moved out of the collector's
    # reach, a full collection no longer walks them on every eighth request or so (measured on
    # the 200-vendor case page: p95 from about 620 ms to about 125 ms; benchmarks/case_page.py).
    gc.freeze()
    uvicorn.Server(server_config(app, settings, host=host, port=port)).run()


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
