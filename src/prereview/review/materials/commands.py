"""Command line of materials: streamed, encrypted uploads and verified downloads."""

from __future__ import annotations

import mimetypes
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from prereview.core.client import (
    DEFAULT_SERVER,
    ApiClient,
    CommandFailed,
    JsonOption,
    ServerOption,
    console,
    errors,
    escape,
    field,
    show,
)
from prereview.core.markings import TLP, Marking
from prereview.review.kinds import MaterialKind

materials = typer.Typer(help="Documents and weights shared for review.", no_args_is_help=True)
COLUMNS = [
    ("id", field("id")),
    ("kind", field("kind")),
    ("file", field("filename")),
    ("bytes", field("size")),
    ("tlp", field("tlp")),
    ("markings", field("markings")),
]


@materials.command("upload")
def upload(
    submission_id: str,
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    kind: Annotated[MaterialKind, typer.Option()] = MaterialKind.OTHER,
    tlp: Annotated[
        TLP, typer.Option(help="TLP:CLEAR, GREEN and AMBER reach consented partners.")
    ] = TLP.AMBER_STRICT,
    marking: Annotated[list[Marking] | None, typer.Option(help="Repeat for each.")] = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Upload a file; it is encrypted on the server as it streams in."""
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    params: dict[str, object] = {"filename": path.name, "kind": kind.value, "tlp": tlp.value}
    if marking:
        params["marking"] = [m.value for m in marking]
    data = ApiClient(server, timeout=3600).upload_file(
        f"/submissions/{submission_id}/materials", path, params=params, content_type=content_type
    )
    show(data, as_json)


@materials.command("list")
def list_(
    submission_id: str,
    limit: int = 50,
    offset: int = 0,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Materials of a submission that you may see."""
    data = ApiClient(server).get(
        f"/submissions/{submission_id}/materials", limit=limit, offset=offset
    )
    show(data, as_json, COLUMNS)


@materials.command("download")
def download(
    material_id: str,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write.")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the file if it already exists.")
    ] = False,
    server: ServerOption = DEFAULT_SERVER,
) -> None:
    """Download a material and check its SHA-256; a damaged transfer leaves no file, and an
    existing file is kept unless --force."""
    client = ApiClient(server, timeout=3600)
    meta = client.get(f"/materials/{material_id}")
    # Only the last path component of the stored name: a name never chooses the directory.
    target = output or Path(Path(meta["filename"]).name)
    if target.exists() and not force:
        errors.print(
            f"[red]error:[/] {escape(str(target))} already exists; nothing was downloaded. "
            "Pass --force to replace it, or --output to write somewhere else."
        )
        raise CommandFailed(1)
    received = client.download_verified(
        f"/materials/{material_id}/content", target, size=meta["size"], sha256=meta["sha256"]
    )
    console.print(f"{target} ({received} bytes, sha256 {meta['sha256']} verified)", markup=False)


@materials.command("shred-expired")
def shred_expired() -> None:
    """Destroy the data keys of submissions past their retention period (on the server)."""
    from prereview.core.context import AppContext
    from prereview.core.db import transaction
    from prereview.core.settings import load_settings
    from prereview.review.materials import service as use_cases
    from prereview.review.service import Rules

    settings = load_settings()
    context = AppContext.create(settings)
    try:
        with transaction(context.sessions) as db:
            shredded = use_cases.shred_expired(
                db,
                context.clock.now(),
                Rules.from_settings(settings),
                timedelta(days=settings.retention_days),
            )
    finally:
        context.engine.dispose()
    console.print(
        f"shredded {len(shredded)} submission(s): {', '.join(shredded) or '-'}", markup=False
    )


def register(app: typer.Typer) -> None:
    app.add_typer(materials, name="material")
