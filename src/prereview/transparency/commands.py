"""Command line of the public transparency report.

``prereview transparency report`` prints a period's report (JSON or CSV; no token needed);
``prereview transparency recompute`` rebuilds it from the audit log's entries (an auditor's
token) and compares, exiting non-zero on any difference.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from prereview.core.client import DEFAULT_SERVER, ApiClient, ServerOption, console, errors, escape

transparency_app = typer.Typer(
    help="The public transparency report: read it, or recompute it from the audit log.",
    no_args_is_help=True,
)

PeriodOption = Annotated[str, typer.Option("--period", "-p", help="A quarter, e.g. 2026Q4.")]


@transparency_app.command("report")
def report(
    period: PeriodOption,
    csv: Annotated[bool, typer.Option("--csv", help="Print CSV instead of JSON.")] = False,
    server: ServerOption = DEFAULT_SERVER,
) -> None:
    """Print the public report of a period (no token needed)."""
    client = ApiClient(server, token="")
    if csv:
        response = client.http.get(
            "/api/v1/transparency/report", params={"period": period, "format": "csv"}
        )
        if response.status_code >= 400:
            errors.print(f"[red]error:[/] {escape(response.text[:500])}")
            raise typer.Exit(1)
        typer.echo(response.text, nl=False)
        return
    found = client.get("/transparency/report", period=period)
    typer.echo(json.dumps(found, indent=2, sort_keys=True))


def _pages(client: ApiClient, period: str, size: int) -> Iterator[dict[str, Any]]:
    after = -1
    while True:
        page: dict[str, Any] = client.get(
            "/transparency/entries", period=period, size=size, after=after
        )
        yield page
        if page.get("next_after") is None:
            return
        after = int(page["next_after"])


def recompute_with(client: ApiClient, period: str, pinned_key: str | None) -> Any:
    """Fetch the published report and its entries through ``client`` and recompute it."""
    from prereview.transparency.recompute import recompute

    published: dict[str, Any] = client.get("/transparency/report", period=period)
    size = int(published["checkpoint"]["size"])
    return recompute(published, _pages(client, period, size), pinned_key)


@transparency_app.command("recompute")
def recompute_command(
    period: PeriodOption,
    server: ServerOption = DEFAULT_SERVER,
) -> None:
    """Recompute a period's published report from the audit log entries (through the API,
    with an auditor's token in PREREVIEW_TOKEN) and compare: any difference is printed and
    the command exits 1. The checkpoint is checked with PREREVIEW_AUDIT_PUBLIC_KEY if set."""
    from prereview.audit.trust import configured_key
    from prereview.core.settings import load_settings
    from prereview.transparency.recompute import RecomputeFailed

    pinned = configured_key(load_settings())
    try:
        done = recompute_with(ApiClient(server), period, pinned)
    except RecomputeFailed as exc:
        errors.print(f"[red]failed:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    point = done.report["checkpoint"]
    console.print(
        f"checkpoint {point['origin']} size {point['size']} root {point['rootHash']} "
        f"({'pinned key' if done.key_pinned else 'key named in the report, not pinned'})",
        markup=False,
    )
    console.print(f"{done.entries} entries checked against it", markup=False)
    if done.noised:
        console.print(
            "the report's counts carry differential-privacy noise: only its checkpoint and "
            "distributions can be compared",
            markup=False,
        )
    if done.differences:
        for line in done.differences:
            errors.print(f"[red]differs:[/] {escape(line)}")
        raise typer.Exit(1)
    console.print(f"the published report of {period} matches the log", markup=False)


def register(app: typer.Typer) -> None:
    """Add ``prereview transparency ...`` to the command line."""
    app.add_typer(transparency_app, name="transparency")
