"""Command line of participation attestations.

``prereview attest request`` asks a running server for one (the developer's token);
``prereview attest verify`` checks one offline, with the platform's attestation public key and
no server; ``prereview attest key`` prints that public key on the server's machine, for the
operator to publish.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from prereview.core.client import (
    DEFAULT_SERVER,
    ApiClient,
    ServerOption,
    console,
    errors,
    escape,
)

attest_app = typer.Typer(
    help="Participation attestations: signed, checkable offline.", no_args_is_help=True
)


@attest_app.command("request")
def request(
    submission_id: Annotated[str, typer.Argument(help="The submission to attest.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the envelope here (default: print it)."),
    ] = None,
    name_reviewers: Annotated[
        bool,
        typer.Option("--name-reviewers", help="Name the agencies and partners that had access."),
    ] = False,
    weights_digest: Annotated[
        str | None, typer.Option(help="SHA-256 (hex) of the model's weights.")
    ] = None,
    model_card_digest: Annotated[
        str | None, typer.Option(help="SHA-256 (hex) of the endpoint's model card.")
    ] = None,
    server: ServerOption = DEFAULT_SERVER,
) -> None:
    """Ask for a participation attestation of your submission (a DSSE envelope, JSON)."""
    body: dict[str, object] = {"name_reviewers": name_reviewers}
    if weights_digest is not None:
        body["weights_digest"] = weights_digest
    if model_card_digest is not None:
        body["model_card_digest"] = model_card_digest
    envelope = ApiClient(server).post(f"/submissions/{submission_id}/attestation", body)
    text = json.dumps(envelope, indent=2, sort_keys=True) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        with output.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        errors.print(f"[red]error:[/] {escape(str(output))} exists; not overwriting it")
        raise typer.Exit(1) from None
    console.print(f"attestation written to {escape(str(output))}")


def _key_text(given: Path | None) -> bytes:
    """The attestation public key: the file given, the setting (PEM or a path), or the
    server's own key file when this runs on the server's machine."""
    from prereview.core.settings import load_settings

    if given is not None:
        return given.read_bytes()
    settings = load_settings()
    configured = settings.attestation_public_key
    if configured:
        if "BEGIN PUBLIC KEY" in configured:
            return configured.encode("ascii", "replace")
        return Path(configured).expanduser().read_bytes()
    if settings.attestation_key_file.exists():
        from prereview.attestation.signing import read_key

        return read_key(settings.attestation_key_file).public_pem().encode("ascii")
    errors.print(
        "[red]error:[/] no attestation key: give --key FILE (the platform's public key, PEM) "
        "or set PREREVIEW_ATTESTATION_PUBLIC_KEY"
    )
    raise typer.Exit(2)


@attest_app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="The attestation (DSSE envelope, JSON).")],
    key: Annotated[
        Path | None,
        typer.Option("--key", help="The platform's attestation public key (PEM file)."),
    ] = None,
    audit_key: Annotated[
        str | None,
        typer.Option(
            "--audit-key",
            help="Also require the log checkpoint to be signed by this audit log key "
            "(<name>+<key ID>+<key>).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verified statement.")] = False,
) -> None:
    """Check an attestation offline: signature, checkpoint, every proof, every figure.

    Exits 1 naming the check that failed.
    """
    from prereview.attestation.verify import VerificationFailed, verify_attestation

    try:
        document = file.read_bytes()
        pem = _key_text(key)
    except OSError as exc:
        errors.print(f"[red]error:[/] cannot read {escape(str(exc.filename))}: {exc.strerror}")
        raise typer.Exit(2) from None
    try:
        verified = verify_attestation(document, pem, audit_key=audit_key)
    except VerificationFailed as exc:
        errors.print(f"[red]FAILED[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    if as_json:
        console.print_json(json.dumps(verified.statement))
        return
    predicate = verified.predicate
    model = predicate.get("model", {})
    findings = predicate["findings"]
    access = predicate["access"]
    console.print(
        f"[green]verified[/] {escape(str(model.get('name')))} {escape(str(model.get('version')))}"
        f" (submission {escape(str(predicate['submissionId']))}): {verified.entries} log "
        f"entries proven against checkpoint {verified.checkpoint_size} of "
        f"{escape(verified.checkpoint_origin)}"
    )
    window = predicate.get("window") or {}
    console.print(
        f"  offered {predicate['offeredAt']}; window {window.get('openedAt', '-')} to "
        f"{window.get('endsAt', '-')} ({window.get('lengthDays', '-')} days); released "
        f"{predicate.get('releasedAt') or '-'}"
    )
    console.print(
        f"  agencies {access['agencies']['count']}, partners {access['partners']['count']}; "
        f"findings {findings['total']} ({findings['answered']} answered); determinations "
        f"{predicate['determinations']['count']}"
    )


@attest_app.command("key")
def key() -> None:
    """Print the platform's attestation public key (PEM), on the server's machine."""
    from prereview.attestation.signing import load_key
    from prereview.core.settings import load_settings

    typer.echo(load_key(load_settings()).public_pem(), nl=False)


def register(app: typer.Typer) -> None:
    """Add ``prereview attest ...`` to the command line."""
    app.add_typer(attest_app, name="attest")
