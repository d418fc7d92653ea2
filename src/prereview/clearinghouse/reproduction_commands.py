"""``prereview vuln poc`` (attach a proof of concept to a report, through the API),
``prereview vuln reproduction`` (its verdict and logs) and ``prereview vuln reproduce
--worker`` (the server-side worker that drains the reproduction queue in the sandbox).

Outside the ``reproduction`` package on purpose: importing that package loads the database,
the sandbox and Inspect AI, which ``prereview --help`` must not."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from prereview.clearinghouse.commands import vuln
from prereview.core.client import (
    DEFAULT_SERVER,
    ApiClient,
    JsonOption,
    ServerOption,
    console,
    escape,
    show,
)


@vuln.command("poc")
def attach_poc(
    report_id: str,
    script: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    package: Annotated[str, typer.Option(help="The affected package (PyPI or npm name).")],
    affected: Annotated[str, typer.Option(help="The affected version it reproduces on.")],
    fixed: Annotated[
        str | None, typer.Option(help="The fixed version, where it must not reproduce.")
    ] = None,
    ecosystem: Annotated[
        str, typer.Option(help="PyPI (a Python PoC) or npm (a node PoC).")
    ] = "PyPI",
    expect_exit: Annotated[int, typer.Option(help="The exit status that means reproduced.")] = 0,
    expect_stdout: Annotated[
        str | None, typer.Option(help="A marker the script's stdout must hold to count.")
    ] = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Attach a proof of concept (a Python script, or a node one for an npm package) to a report
    you reported; the server runs it in its sandbox against the affected and the fixed release."""
    language = "node" if ecosystem == "npm" else "python"
    params = {
        "package": package,
        "affected": affected,
        "expect_exit": str(expect_exit),
        "ecosystem": ecosystem,
        "language": language,
    }
    if fixed is not None:
        params["fixed"] = fixed
    if expect_stdout is not None:
        params["expect_stdout"] = expect_stdout
    answer = ApiClient(server).request(
        "POST",
        f"/clearinghouse/reports/{report_id}/poc",
        params=params,
        content=script.read_bytes(),
        headers={"Content-Type": "application/octet-stream"},
    )
    show(answer, as_json)


@vuln.command("reproduction")
def show_reproduction(
    report_id: str, server: ServerOption = DEFAULT_SERVER, as_json: JsonOption = False
) -> None:
    """A report's reproduction: reproduced, not reproduced or unknown (a claim only), with
    each PoC version's verdict and the log of each run."""
    show(ApiClient(server).get(f"/clearinghouse/reports/{report_id}/reproduction"), as_json)


@vuln.command("reproduce")
def reproduce(
    worker: Annotated[
        bool, typer.Option("--worker", help="Keep draining the queue until interrupted.")
    ] = False,
    interval: Annotated[float, typer.Option(help="Seconds between passes (--worker).")] = 5.0,
) -> None:
    """Run the queued proofs of concept in the sandbox (on the server: it reads the platform's
    database and vault, as `prereview serve` does)."""
    from prereview.clearinghouse.reproduction.worker import drain
    from prereview.core.context import AppContext
    from prereview.core.settings import load_settings
    from prereview.vault.service import Vault

    settings = load_settings()
    context = AppContext.create(settings)
    vault = Vault.local(settings.master_key_file, settings.blob_dir)
    while True:
        done = drain(context.sessions, vault, context.clock, settings.reproduction_artefact_dir)
        for poc_id in done:
            console.print(f"reproduced {escape(poc_id)}", markup=False)
        if not worker:
            console.print(f"{len(done)} proof(s) of concept run", markup=False)
            return
        time.sleep(interval)


def register(app: typer.Typer) -> None:
    """The commands are on ``prereview vuln`` (added when this module is imported)."""
    del app
