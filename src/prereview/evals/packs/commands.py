"""Command line of private task packs: ``prereview eval pack upload|list|share|unshare|
download|verify``, over the HTTP API. ``prereview eval run --pack`` runs one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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
    instant_option,
    show,
)

packs = typer.Typer(
    help="Private task packs: your agency's own Inspect tasks, shared with agencies you name.",
    no_args_is_help=True,
)
COLUMNS = [
    ("id", field("id")),
    ("pack", field("reference")),
    ("owner", field("owner_org_id")),
    ("tasks", field("tasks")),
    ("bytes", field("size")),
    ("sha256", field("sha256")),
]
PackArg = Annotated[str, typer.Argument(help="The pack: its id, or name@version.")]


def resolve(client: ApiClient, reference: str) -> dict[str, Any]:
    """The pack a reference names, among those your agency may read: an id, or name@version
    (which two agencies may both use: then give the id)."""
    if "@" not in reference:
        return client.get(f"/eval-packs/{reference}")  # type: ignore[no-any-return]
    name, _, version = reference.partition("@")
    found = client.get_all("/eval-packs", name=name, version=version)
    if len(found) != 1:
        what = (
            "no pack" if not found else f"{len(found)} packs ({', '.join(p['id'] for p in found)})"
        )
        errors.print(
            f"[red]error:[/] {what} named {escape(reference)} that your agency may read"
            + ("; name it by its id" if found else "")
        )
        raise CommandFailed(2)
    return found[0]  # type: ignore[no-any-return]


def fetch(client: ApiClient, pack: dict[str, Any], target: Path) -> None:
    """Download ``pack`` to ``target``; a transfer that is not the recorded size and SHA-256
    leaves no file and fails."""
    client.download_verified(
        f"/eval-packs/{pack['id']}/content", target, size=pack["size"], sha256=pack["sha256"]
    )


@packs.command("upload")
def upload(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Upload a pack (NAME.tar.gz with pack.toml and the package); it is encrypted under your
    agency's key as it streams in. Nobody else sees it until you share it."""
    data = ApiClient(server, timeout=3600).upload_file(
        "/eval-packs",
        path,
        params={"filename": path.name},
        content_type="application/octet-stream",
    )
    show(data, as_json)


@packs.command("list")
def list_(
    name: Annotated[str | None, typer.Option(help="Only packs of this name.")] = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """The packs your agency owns or is shared now."""
    params = {"name": name} if name else {}
    show(ApiClient(server).get_all("/eval-packs", **params), as_json, COLUMNS)


@packs.command("share")
def share(
    pack: PackArg,
    agency: Annotated[str, typer.Option("--agency", help="The agency's organisation id.")],
    until: Annotated[
        str | None, typer.Option(help="End of the share (ISO 8601 with offset).")
    ] = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Share your pack with another agency: its reviewers may download and run it."""
    client = ApiClient(server)
    found = resolve(client, pack)
    body: dict[str, Any] = {"agency_org_id": agency}
    if until:
        body["ends_at"] = instant_option(until, "--until")
    show(client.post(f"/eval-packs/{found['id']}/shares", body), as_json)


@packs.command("unshare")
def unshare(
    pack: PackArg,
    agency: Annotated[str, typer.Option("--agency", help="The agency's organisation id.")],
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """End your share of a pack with an agency, at once."""
    client = ApiClient(server)
    found = resolve(client, pack)
    show(client.request("DELETE", f"/eval-packs/{found['id']}/shares/{agency}"), as_json)


@packs.command("download")
def download(
    pack: PackArg,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write.")] = None,
    server: ServerOption = DEFAULT_SERVER,
) -> None:
    """Download a pack your agency may read; its SHA-256 is checked against the recorded one."""
    client = ApiClient(server, timeout=3600)
    found = resolve(client, pack)
    target = output or Path(Path(found["filename"]).name)
    fetch(client, found, target)
    console.print(
        f"{target} ({found['reference']}, sha256 {found['sha256']} verified)", markup=False
    )


@packs.command("verify")
def verify(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    pack: Annotated[str, typer.Option("--pack", help="The pack: its id, or name@version.")],
    server: ServerOption = DEFAULT_SERVER,
) -> None:
    """Check a pack file against the SHA-256 the server recorded for the pack."""
    from prereview.evals.packs.errors import PackTampered
    from prereview.evals.packs.runner import verify as verify_file

    found = resolve(ApiClient(server), pack)
    try:
        verify_file(path, found["sha256"])
    except PackTampered as exc:
        errors.print(f"[red]error:[/] {escape(exc.detail)}")
        raise CommandFailed(1) from None
    console.print(f"{path}: {found['reference']}, sha256 {found['sha256']} verified", markup=False)


__all__ = ["fetch", "packs", "resolve"]
