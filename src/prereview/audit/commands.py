"""Command line of the audit log.

``prereview audit verify`` runs on the server's machine, straight against the database named by
``PREREVIEW_DATABASE_URL``; the other commands ask a running server over HTTP and check what it
answers (proofs are verified locally, so a lying server is caught).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from prereview.audit import merkle
from prereview.audit.checkpoint import NoteVerifier, parse_and_verify_checkpoint, read_signer_key
from prereview.audit.errors import LogMismatch
from prereview.audit.service import log_size
from prereview.audit.verify import verify_stored_log
from prereview.core.client import (
    DEFAULT_SERVER,
    ApiClient,
    JsonOption,
    ServerOption,
    console,
    errors,
    field,
    show,
)
from prereview.core.context import AppContext
from prereview.core.errors import PrereviewError
from prereview.core.settings import Settings, load_settings

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
proof_app = typer.Typer(help="Merkle proofs from the server, checked here.", no_args_is_help=True)
audit_app.add_typer(proof_app, name="proof")

VerifierOption = Annotated[
    list[str] | None,
    typer.Option(
        "--verifier-key",
        help="A trusted checkpoint key, <name>+<key ID>+<key>; repeat for several.",
    ),
]


def _trusted(settings: Settings, given: list[str] | None) -> list[NoteVerifier] | None:
    """The keys checkpoints must be signed with: those given, and the server's own key file."""
    trusted = [NoteVerifier.from_string(key) for key in given or []]
    if settings.audit_key_file.exists():
        signer = read_signer_key(settings.audit_key_file, name=settings.audit_origin)
        trusted.append(signer.verifier)
    return trusted or None


@audit_app.command("verify")
def verify(
    verifier_key: VerifierOption = None,
    chunk: Annotated[int, typer.Option(min=1, help="Entries read per query.")] = 10_000,
) -> None:
    """Check the whole stored log against its signed checkpoints (run on the server's machine).

    Exits 1 naming the first bad entry if any row was changed, deleted, reordered or inserted.
    """
    settings = load_settings()
    context = AppContext.create(settings)
    try:
        trusted = _trusted(settings, verifier_key)
        if trusted is None:
            errors.print(
                "[yellow]warning:[/] no signing key file and no --verifier-key: trusting the "
                "verifier keys stored in the database"
            )
        with context.sessions() as db:
            columns = (
                TextColumn("verifying"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
            )
            with Progress(*columns, console=errors, transient=True) as bar:
                task = bar.add_task("entries", total=log_size(db))
                result = verify_stored_log(
                    db, trusted, progress=lambda done: bar.advance(task, done), chunk=chunk
                )
    except LogMismatch as exc:
        position = exc.extra.get("position")
        errors.print(f"[red]log NOT verified:[/] {exc.detail}")
        if position is not None:
            errors.print(f"first bad entry: seq {position}")
        raise typer.Exit(1) from None
    except PrereviewError as exc:
        errors.print(f"[red]error:[/] {exc.detail}")
        raise typer.Exit(2) from None
    finally:
        context.engine.dispose()
    root = base64.b64encode(result.root).decode("ascii")
    signed = (
        f"{result.checkpoints} signed checkpoints checked, the latest at size "
        f"{result.checkpoint_size}"
        if result.checkpoint_size is not None
        else "no signed checkpoint yet"
    )
    console.print(f"log verified: {result.size} entries, root {root} ({signed})")


def _hash(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        errors.print(f"[red]error:[/] the server sent a {what} that is not base64")
        raise typer.Exit(1) from None


def _checked(check: Any, *args: Any) -> None:
    try:
        check(*args)
    except PrereviewError as exc:
        errors.print(f"[red]proof does NOT verify:[/] {exc.detail}")
        raise typer.Exit(1) from None


@audit_app.command("checkpoint")
def checkpoint(
    verifier_key: Annotated[
        str | None,
        typer.Option(help="Check the signature with this trusted key, not the one served."),
    ] = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """The log's latest signed checkpoint; its signature is checked here."""
    data = ApiClient(server).get("/audit/checkpoint")
    try:
        parse_and_verify_checkpoint(data["note"], verifier_key or data["verifier_key"])
    except PrereviewError as exc:
        errors.print(f"[red]checkpoint does NOT verify:[/] {exc.detail}")
        raise typer.Exit(1) from None
    show(data, as_json)


@proof_app.command("inclusion")
def proof_inclusion(
    seq: Annotated[int, typer.Argument(min=0, help="The entry.")],
    size: Annotated[int | None, typer.Option(min=1, help="Default: latest checkpoint.")] = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Proof that entry SEQ is in the log; verified here against the root served with it."""
    data = ApiClient(server).get("/audit/proof/inclusion", seq=seq, size=size)
    path = [_hash(h, "proof hash") for h in data["proof"]]
    _checked(
        merkle.verify_inclusion,
        _hash(data["leaf_hash"], "leaf hash"),
        data["seq"],
        data["size"],
        path,
        _hash(data["root"], "root"),
    )
    show(data, as_json)
    if not as_json:
        console.print(f"inclusion proof verified: {len(path)} hashes for a tree of {data['size']}")


@proof_app.command("consistency")
def proof_consistency(
    first: Annotated[int, typer.Argument(min=0, help="The older tree's size.")],
    second: Annotated[int, typer.Argument(min=0, help="The newer tree's size.")],
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Proof that the log of SECOND entries extends the log of FIRST; verified here."""
    data = ApiClient(server).get("/audit/proof/consistency", first=first, second=second)
    path = [_hash(h, "proof hash") for h in data["proof"]]
    _checked(
        merkle.verify_consistency,
        data["first"],
        data["second"],
        _hash(data["first_root"], "root"),
        _hash(data["second_root"], "root"),
        path,
    )
    show(data, as_json)
    if not as_json:
        console.print(f"consistency proof verified: {len(path)} hashes")


@audit_app.command("entries")
def entries(
    with_proofs: Annotated[bool, typer.Option(help="Fetch each entry's inclusion proof.")] = False,
    limit: int = 50,
    offset: int = 0,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Every entry about your organisation's submissions (developers).

    With ``--with-proofs`` each entry's text, leaf hash and inclusion proof are checked here
    against the signed checkpoint served with them.
    """
    data = ApiClient(server).get(
        "/audit/entries", limit=limit, offset=offset, with_proofs=with_proofs or None
    )
    if with_proofs:
        _check_proven_page(data)
    columns = [
        ("seq", field("seq")),
        ("at", field("at")),
        ("submission", field("submission_id")),
        ("org", field("actor_org_id")),
        ("action", field("action")),
        ("object", lambda r: f"{r['object_type']} {r['object_id'] or ''}"),
        ("proof", lambda r: len(r["inclusion"]["proof"]) if r.get("inclusion") else "-"),
    ]
    show(data, as_json, columns)


def _check_proven_page(data: Any) -> None:
    signed = data["checkpoint"]
    try:
        stated = parse_and_verify_checkpoint(signed["note"], signed["verifier_key"])
    except PrereviewError as exc:
        errors.print(f"[red]checkpoint does NOT verify:[/] {exc.detail}")
        raise typer.Exit(1) from None
    for item in data["items"]:
        proof = item.get("inclusion")
        if proof is None:
            continue
        leaf = merkle.leaf_hash(item["leaf"].encode("utf-8"))
        if leaf != _hash(item["leaf_hash"], "leaf hash") or leaf != _hash(proof["leaf_hash"], "x"):
            errors.print(f"[red]entry {item['seq']} does NOT match its leaf hash[/]")
            raise typer.Exit(1)
        path = [_hash(h, "proof hash") for h in proof["proof"]]
        _checked(merkle.verify_inclusion, leaf, item["seq"], stated.size, path, stated.root)


def register(app: typer.Typer) -> None:
    """Add ``prereview audit ...`` to the command line."""
    app.add_typer(audit_app, name="audit")
