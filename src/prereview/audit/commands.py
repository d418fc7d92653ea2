"""Command line of the audit log.

``prereview audit verify`` runs on the server's machine, straight against the database named by
``PREREVIEW_DATABASE_URL``; the other commands ask a running server over HTTP and check what it
answers (proofs are verified locally, so a lying server is caught). Those check every
checkpoint against the key pinned for the server and the checkpoint saved last time
(:mod:`prereview.audit.trust`); ``prereview audit trust ...`` shows, exports (as a witness for
``verify --witness``) or forgets what is saved.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from prereview.audit import merkle
from prereview.audit.errors import LogMismatch
from prereview.core.client import (
    DEFAULT_SERVER,
    ActionOption,
    ActorOption,
    ApiClient,
    JsonOption,
    OldestFirstOption,
    ServerOption,
    SinceOption,
    UntilOption,
    audit_filters,
    console,
    errors,
    escape,
    field,
    organisation,
    show,
)
from prereview.core.errors import PrereviewError

if TYPE_CHECKING:
    from prereview.audit.checkpoint import Checkpoint, NoteVerifier
    from prereview.audit.trust import LogTrust, TrustState
    from prereview.core.settings import Settings

# The log's tables, the trust store and the settings are imported inside the commands that use
# them, so that `prereview --help` does not load the database layer.

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
    from prereview.audit.checkpoint import NoteVerifier, read_signer_key

    trusted = [NoteVerifier.from_string(key) for key in given or []]
    if settings.audit_key_file.exists():
        signer = read_signer_key(settings.audit_key_file, name=settings.audit_origin)
        trusted.append(signer.verifier)
    return trusted or None


WitnessOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--witness",
        help="A witness file (from 'prereview audit trust export' on a client); repeat for "
        "several. The log must match every checkpoint in it.",
        exists=False,
        dir_okay=False,
    ),
]


@audit_app.command("verify")
def verify(
    verifier_key: VerifierOption = None,
    witness: WitnessOption = None,
    chunk: Annotated[int, typer.Option(min=1, help="Entries read per query.")] = 10_000,
) -> None:
    """Check the whole stored log against every checkpoint signed for it (on the server).

    The roots are checked against the checkpoint rows, the append-only published-checkpoint
    table, the journal file next to the signing key, and any witness files. Exits 1 naming the
    first bad entry if any row was changed, deleted, reordered or inserted, or if the log was
    rebuilt or truncated below a published checkpoint. Reads one snapshot, so it can run while
    the server is writing.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from prereview.audit.cosignature import CosignatureVerifier
    from prereview.audit.service import log_size
    from prereview.audit.trust import load_witness
    from prereview.audit.verify import begin_snapshot, verify_stored_log
    from prereview.core.context import AppContext
    from prereview.core.settings import load_settings

    settings = load_settings()
    context = AppContext.create(settings)
    try:
        trusted = _trusted(settings, verifier_key)
        if trusted is None:
            errors.print(
                "[yellow]warning:[/] no signing key file and no --verifier-key: trusting the "
                "verifier keys stored in the database"
            )
        witnesses = [
            item
            for path in witness or []
            for item in load_witness(path, origin=settings.audit_origin)
        ]
        # The configured witnesses' keys (audit_witnesses, or audit_witness_keys if set).
        cosigners = [
            CosignatureVerifier.from_string(key)
            for key in settings.audit_witness_keys or [w.key for w in settings.audit_witnesses]
        ]
        with context.sessions() as db:
            begin_snapshot(db)
            columns = (
                TextColumn("verifying"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
            )
            with Progress(*columns, console=errors, transient=True) as bar:
                task = bar.add_task("entries", total=log_size(db))
                result = verify_stored_log(
                    db,
                    trusted,
                    progress=lambda done: bar.advance(task, done),
                    chunk=chunk,
                    journal=settings.audit_journal_path,
                    witnesses=witnesses,
                    cosigners=cosigners,
                )
    except LogMismatch as exc:
        position = exc.extra.get("position")
        errors.print(f"[red]log NOT verified:[/] {escape(exc.detail)}")
        if position is not None:
            errors.print(f"first bad entry: seq {position}", markup=False)
        raise typer.Exit(1) from None
    except PrereviewError as exc:
        errors.print(f"[red]error:[/] {escape(exc.detail)}")
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
    console.print(
        f"log verified: {result.size} entries, root {root} ({signed}; "
        f"{result.published} published checkpoints matched, {result.cosignatures} witness "
        "cosignatures checked)"
    )


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
        errors.print(f"[red]proof does NOT verify:[/] {escape(exc.detail)}")
        raise typer.Exit(1) from None


WitnessKeyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--witness-key",
        help="A trusted witness's verifier key (<name>+<key ID>+<key>, type 0x04); repeat for "
        "several. Default: PREREVIEW_AUDIT_WITNESS_KEYS.",
    ),
]
MinWitnessesOption = Annotated[
    int | None,
    typer.Option(
        "--min-witnesses",
        min=0,
        help="Valid witness cosignatures the checkpoint needs. Default: "
        "PREREVIEW_AUDIT_MIN_WITNESSES (0).",
    ),
]


def _trust(
    server: str,
    key: str | None = None,
    witness_keys: list[str] | None = None,
    min_witnesses: int | None = None,
) -> LogTrust:
    from prereview.audit.trust import LogTrust
    from prereview.core.settings import load_settings

    try:
        return LogTrust.for_server(
            load_settings(),
            server,
            key,
            witness_keys=witness_keys or (),
            min_witnesses=min_witnesses,
        )
    except PrereviewError as exc:
        errors.print(f"[red]error:[/] {escape(exc.detail)}")
        raise typer.Exit(2) from None


def _consistency(client: ApiClient) -> Callable[[int, int], Any]:
    return lambda first, second: client.get("/audit/proof/consistency", first=first, second=second)


def _accept(trust: LogTrust, client: ApiClient, served: Any) -> Checkpoint:
    """Check a served checkpoint against the pinned key and the last one seen, and save it;
    exit 1 naming what failed."""
    try:
        accepted = trust.accept(served, _consistency(client))
    except PrereviewError as exc:
        errors.print(f"[red]checkpoint does NOT verify:[/] {escape(exc.detail)}")
        raise typer.Exit(1) from None
    if accepted.pinned_now:
        errors.print(
            "[yellow]note:[/] first use of this log: pinned its key "
            f"{escape(str(served['verifier_key']))} "
            f"in {trust.path}; compare it with the one your operator published"
        )
    return accepted.checkpoint


def _latest(trust: LogTrust, client: ApiClient) -> Checkpoint:
    return _accept(trust, client, client.get("/audit/checkpoint"))


def _anchored(trust: LogTrust, client: ApiClient, size: int, root: bytes) -> None:
    """Tie a root served with a proof to the trusted checkpoint by a consistency proof."""
    _checked(trust.anchor, size, root, _consistency(client))


@audit_app.command("checkpoint")
def checkpoint(
    verifier_key: Annotated[
        str | None,
        typer.Option(help="The log's trusted key; default: PREREVIEW_AUDIT_PUBLIC_KEY, or pinned."),
    ] = None,
    witness_key: WitnessKeyOption = None,
    min_witnesses: MinWitnessesOption = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """The log's latest signed checkpoint, checked here against the pinned key and the last one.

    The first use pins the log's key (or takes PREREVIEW_AUDIT_PUBLIC_KEY); later ones fail on
    a key change, a smaller log, or a log that does not extend the checkpoint saved last time.
    With --min-witnesses N, it also needs N valid cosignatures by the witness keys given
    (C2SP tlog-cosignature), which witnesses give only to a log that never forked.
    """
    trust = _trust(server, verifier_key, witness_key, min_witnesses)
    client = ApiClient(server)
    data = client.get("/audit/checkpoint")
    _accept(trust, client, data)
    show(data, as_json)


@proof_app.command("inclusion")
def proof_inclusion(
    seq: Annotated[int, typer.Argument(min=0, help="The entry.")],
    size: Annotated[int | None, typer.Option(min=1, help="Default: latest checkpoint.")] = None,
    witness_key: WitnessKeyOption = None,
    min_witnesses: MinWitnessesOption = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Proof that entry SEQ is in the log, verified here against the trusted checkpoint."""
    trust = _trust(server, None, witness_key, min_witnesses)
    client = ApiClient(server)
    trusted = _latest(trust, client)
    data = client.get("/audit/proof/inclusion", seq=seq, size=size or trusted.size)
    path = [_hash(h, "proof hash") for h in data["proof"]]
    root = _hash(data["root"], "root")
    _checked(
        merkle.verify_inclusion,
        _hash(data["leaf_hash"], "leaf hash"),
        data["seq"],
        data["size"],
        path,
        root,
    )
    if data["size"] == trusted.size:
        if root != trusted.root:
            errors.print("[red]proof does NOT verify:[/] its root is not the checkpoint's root")
            raise typer.Exit(1)
    else:
        _anchored(trust, client, data["size"], root)
    show(data, as_json)
    if not as_json:
        console.print(
            f"inclusion proof verified: {len(path)} hashes for a tree of {data['size']}",
            markup=False,
        )


@proof_app.command("consistency")
def proof_consistency(
    first: Annotated[int, typer.Argument(min=0, help="The older tree's size.")],
    second: Annotated[int, typer.Argument(min=0, help="The newer tree's size.")],
    witness_key: WitnessKeyOption = None,
    min_witnesses: MinWitnessesOption = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Proof that the log of SECOND entries extends the log of FIRST; verified here, and tied
    to the trusted checkpoint."""
    trust = _trust(server, None, witness_key, min_witnesses)
    client = ApiClient(server)
    _latest(trust, client)
    data = client.get("/audit/proof/consistency", first=first, second=second)
    path = [_hash(h, "proof hash") for h in data["proof"]]
    second_root = _hash(data["second_root"], "root")
    _checked(
        merkle.verify_consistency,
        data["first"],
        data["second"],
        _hash(data["first_root"], "root"),
        second_root,
        path,
    )
    _anchored(trust, client, data["second"], second_root)
    show(data, as_json)
    if not as_json:
        console.print(f"consistency proof verified: {len(path)} hashes", markup=False)


@audit_app.command("entries")
def entries(
    with_proofs: Annotated[bool, typer.Option(help="Fetch each entry's inclusion proof.")] = False,
    submission: Annotated[
        str | None, typer.Option("--submission", help="Only the entries about this submission.")
    ] = None,
    actor: ActorOption = None,
    action: ActionOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    oldest_first: OldestFirstOption = False,
    limit: int = 50,
    offset: int = 0,
    witness_key: WitnessKeyOption = None,
    min_witnesses: MinWitnessesOption = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Every entry about your organisation's submissions (developers), newest first.

    With ``--with-proofs`` each entry's text, leaf hash and inclusion proof are checked here
    against the checkpoint served with them, itself checked against the pinned key and the
    checkpoint saved last time.
    """
    trust = _trust(server, None, witness_key, min_witnesses) if with_proofs else None
    client = ApiClient(server)
    data = client.get(
        "/audit/entries",
        limit=limit,
        offset=offset,
        with_proofs=with_proofs or None,
        submission=submission,
        **audit_filters(actor, action, since, until, oldest_first),
    )
    if trust is not None:
        _check_proven_page(_accept(trust, client, data["checkpoint"]), data)
    columns = [
        ("seq", field("seq")),
        ("at", field("at")),
        ("action", field("action")),
        ("organisation", organisation("actor_org_id")),
        ("submission", field("submission_id")),
        ("object", field("object_id")),
        ("proof", lambda r: len(r["inclusion"]["proof"]) if r.get("inclusion") else "-"),
    ]
    show(data, as_json, columns, names=client)


def _check_proven_page(stated: Checkpoint, data: Any) -> None:
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


# --- The client's saved trust: the pinned key and checkpoints, exported as a witness ----------

trust_app = typer.Typer(
    help="What this machine trusts about a server's audit log: its key and checkpoints.",
    no_args_is_help=True,
)
audit_app.add_typer(trust_app, name="trust")


@trust_app.command("show")
def trust_show(server: ServerOption = DEFAULT_SERVER, as_json: JsonOption = False) -> None:
    """The pinned key and the latest checkpoint saved for SERVER's log."""
    trust = _trust(server)
    state = _saved_state(trust)
    latest = state.latest
    show(
        {
            "file": str(trust.path),
            "origin": state.origin,
            "verifier_key": state.verifier_key,
            "checkpoints": len(state.checkpoints),
            "latest_size": latest.size if latest else None,
            "latest_root": base64.b64encode(latest.root).decode("ascii") if latest else None,
        },
        as_json,
    )


@trust_app.command("export")
def trust_export(
    out: Annotated[
        Path | None, typer.Option("--out", help="Write here (0600); default: standard output.")
    ] = None,
    server: ServerOption = DEFAULT_SERVER,
) -> None:
    """Export the saved checkpoints as a witness file, for 'prereview audit verify --witness'."""
    trust = _trust(server)
    state = _saved_state(trust)
    if out is None:
        console.print_json(json.dumps(state.to_json()))
        return
    from prereview.audit.trust import save_state

    save_state(out, state)
    errors.print(f"wrote {len(state.checkpoints)} checkpoints to {out}", markup=False)


@trust_app.command("forget")
def trust_forget(server: ServerOption = DEFAULT_SERVER) -> None:
    """Drop the pinned key and saved checkpoints (after a key rotation checked out of band)."""
    trust = _trust(server)
    if trust.forget():
        errors.print(
            f"removed {trust.path}; the next command pins the key it is served", markup=False
        )
    else:
        errors.print(f"nothing saved for {server}", markup=False)


def _saved_state(trust: LogTrust) -> TrustState:
    try:
        state = trust.state()
    except PrereviewError as exc:
        errors.print(f"[red]error:[/] {escape(exc.detail)}")
        raise typer.Exit(2) from None
    if state is None:
        errors.print(
            "[red]error:[/] nothing saved for this server yet; run 'prereview audit checkpoint'"
        )
        raise typer.Exit(2)
    return state


def register(app: typer.Typer) -> None:
    """Add ``prereview audit ...`` to the command line."""
    app.add_typer(audit_app, name="audit")
