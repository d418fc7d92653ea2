"""Command line of the TAXII federation: ``prereview vuln federation add-peer|pull|status``.

These run on the server's machine, against its database and vault (like ``prereview db
upgrade``): a pull is long outbound work that no HTTP request should wait on. They act as the
holder of ``PREREVIEW_TOKEN``, checked against the database, so only a clearinghouse analyst may
run them. The peer's own token is read from ``PREREVIEW_FEDERATION_TOKEN`` or asked for
without echo, never taken as an argument (it would land in the shell's history).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from prereview.core.client import HOW_TO_AUTHENTICATE, JsonOption, errors, field, show
from prereview.core.clock import SystemClock

federation_app = typer.Typer(
    help="Pull other clearinghouses' TAXII 2.1 collections, with a checkable sync.",
    no_args_is_help=True,
)
STATUS_COLUMNS = [
    ("peer", field("peer")),
    ("collection", field("collection")),
    ("state", field("state")),
    ("pulled", field("pulled")),
    ("peer count", field("peer_side.count")),
    ("our count", field("our_side.count")),
    ("missing", field("differences.missing")),
    ("versions differ", field("differences.version_mismatches")),
    ("not at peer", field("differences.not_at_peer")),
    ("error", field("error")),
]


@contextmanager
def _local() -> Iterator[tuple[Any, Any, Any, Any]]:
    """The database session, vault, caller and clock of this machine's server."""
    from prereview.core.context import AppContext
    from prereview.core.errors import PrereviewError
    from prereview.core.settings import load_settings
    from prereview.identity import service as identity
    from prereview.vault.service import Vault

    token = os.environ.get("PREREVIEW_TOKEN")
    if not token:
        errors.print(f"[red]error:[/] {HOW_TO_AUTHENTICATE}")
        raise typer.Exit(1)
    settings = load_settings()
    context = AppContext.create(settings, SystemClock())
    vault = Vault.local(settings.master_key_file, settings.blob_dir)
    try:
        with context.sessions() as db:
            actor = identity.authenticate(db, token, context.clock.now())
            db.commit()
            yield db, vault, actor, context.clock
    except PrereviewError as exc:
        errors.print(f"[red]error:[/] {exc.detail}", markup=True, highlight=False)
        for problem in exc.extra.get("errors", []):
            errors.print(f"  - {problem['path']}: {problem['message']}", markup=False)
        raise typer.Exit(1) from None
    finally:
        context.engine.dispose()


def _show(statuses: list[Any], as_json: bool) -> None:
    rows = [s.summary() for s in statuses]
    show(rows, as_json, STATUS_COLUMNS, title="federation")
    if not as_json:
        for row in rows:
            for entry in row["differences"].get("missing_ids", []):
                reasons = "; ".join(f"{r['path']}: {r['message']}" for r in entry["reasons"])
                errors.print(f"missing {entry['id']} ({entry['version']}): {reasons}", markup=False)
            for entry in row["differences"].get("version_mismatch_ids", []):
                errors.print(
                    f"version differs {entry['id']}: peer {entry['peer']}, ours {entry['ours']}",
                    markup=False,
                )


@federation_app.command("add-peer")
def add_peer(
    name: Annotated[str, typer.Argument(help="A name for the peer.")],
    api_root: Annotated[str, typer.Argument(help="Its TAXII 2.1 API root URL.")],
    collection: Annotated[
        list[str], typer.Option("--collection", help="A collection id to pull (repeat).")
    ],
    tlp: Annotated[str, typer.Option(help="The TLP label its reports land under.")] = "AMBER",
    username: Annotated[
        str | None, typer.Option(help="Send the token as HTTP Basic password for this user.")
    ] = None,
    private_network: Annotated[
        bool,
        typer.Option(
            "--private-network",
            help="The peer is on a private network: allow private and loopback addresses "
            "(real peers on an internal network exist), and plain http to loopback (tests, "
            "demos). Without it, only public addresses over https are asked. Link-local and "
            "cloud metadata addresses are refused either way; redirects are never followed.",
        ),
    ] = False,
) -> None:
    """Declare a peer; its token (PREREVIEW_FEDERATION_TOKEN, or asked) is sealed in the vault."""
    from prereview.clearinghouse.federation import PeerSpec
    from prereview.clearinghouse.federation import add_peer as add
    from prereview.core.markings import Tlp

    token = os.environ.get("PREREVIEW_FEDERATION_TOKEN") or typer.prompt(
        "the peer's API token", hide_input=True
    )
    try:
        label = Tlp(tlp.upper())
    except ValueError:
        errors.print(f"[red]error:[/] not a TLP label: {tlp!r}", highlight=False)
        raise typer.Exit(1) from None
    with _local() as (db, vault, actor, clock):
        spec = PeerSpec(name, api_root, token, collection, label, username, private_network)
        peer_id = add(db, vault, actor, spec, clock.now())
    typer.echo(f"peer {name} added ({peer_id})")


@federation_app.command("pull")
def pull(
    name: Annotated[str, typer.Argument(help="The peer's name (or id).")],
    page_size: Annotated[int, typer.Option(min=1, max=1000, help="Objects per page.")] = 500,
    as_json: JsonOption = False,
) -> None:
    """Pull the peer's collections through intake, then check both sides; exit 1 unless every
    collection is in sync."""
    from prereview.clearinghouse.federation import pull as run

    with _local() as (db, vault, actor, clock):
        statuses = run(db, vault, actor, name, clock, page_size=page_size)
    _show(statuses, as_json)
    if not all(s.state == "in_sync" for s in statuses):
        raise typer.Exit(1)


@federation_app.command("status")
def status(
    name: Annotated[str | None, typer.Argument(help="One peer (default: every peer).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Where each peer collection stands: in sync, or exactly what differs."""
    from prereview.clearinghouse.federation import status as read

    with _local() as (db, _, actor, _clock):
        statuses = read(db, actor, name)
    _show(statuses, as_json)
