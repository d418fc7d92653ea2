"""``prereview witness ...``: make a witness key, and run a witness (C2SP tlog-witness)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prereview.core.client import console, errors, escape
from prereview.core.errors import PrereviewError

witness_app = typer.Typer(
    help="A witness that cosigns other logs' checkpoints (C2SP tlog-witness).",
    no_args_is_help=True,
)

KeyOption = Annotated[
    Path, typer.Option("--key", help="The witness's key file (from 'prereview witness key').")
]


@witness_app.command("key")
def key(
    name: Annotated[
        str, typer.Option(help="The witness's name, a schema-less URL: witness.example/w1.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Write the secret key here (0600).")],
) -> None:
    """Make a new Ed25519 witness key; print the verifier key to give to logs and clients."""
    from prereview.audit.cosignature import Cosigner
    from prereview.witness.service import write_key

    cosigner = Cosigner.generate(name)
    try:
        write_key(out, cosigner)
    except PrereviewError as exc:
        errors.print(f"[red]error:[/] {escape(exc.detail)}")
        raise typer.Exit(2) from None
    errors.print(f"wrote the secret key to {out}; the verifier key is:", markup=False)
    console.print(str(cosigner.verifier), markup=False, highlight=False, soft_wrap=True)


@witness_app.command("serve")
def serve(
    key_file: KeyOption,
    log: Annotated[
        list[str],
        typer.Option(
            "--log",
            help="A log to witness, <origin>=<verifier key>; repeat for several logs or keys.",
        ),
    ],
    state: Annotated[
        Path, typer.Option(help="The witness's state file (SQLite), created if missing.")
    ] = Path("var/witness-state.db"),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 7380,
) -> None:
    """Run a witness: POST /add-checkpoint cosigns checkpoints consistent with the last one."""
    import time

    import uvicorn

    from prereview.audit.checkpoint import NoteVerifier
    from prereview.witness.app import create_witness_app
    from prereview.witness.service import Witness, parse_log, read_key
    from prereview.witness.state import WitnessState

    try:
        cosigner = read_key(key_file)
        logs: dict[str, list[NoteVerifier]] = {}
        for spec in log:
            origin, verifier = parse_log(spec)
            logs.setdefault(origin, []).append(verifier)
        witness = Witness(cosigner, logs, WitnessState(state), time.time)
    except PrereviewError as exc:
        errors.print(f"[red]error:[/] {escape(exc.detail)}")
        raise typer.Exit(2) from None
    console.print(f"witness {cosigner.verifier}", markup=False, highlight=False, soft_wrap=True)
    for origin in logs:
        console.print(f"  follows {origin}", markup=False)
    console.print(f"Serving on http://{host}:{port}/add-checkpoint", markup=False)
    uvicorn.run(create_witness_app(witness), host=host, port=port, log_level="info")


def register(app: typer.Typer) -> None:
    """Add ``prereview witness ...`` to the command line."""
    app.add_typer(witness_app, name="witness")
