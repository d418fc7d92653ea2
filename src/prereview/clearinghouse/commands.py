"""Command line of the clearinghouse: ``prereview vuln import|list|show`` and, for analysts,
``prereview vuln claims list|verify|reject|revoke``.

``vuln import`` sends a file, or every report file of a folder, to the server's bulk intake;
JSON Lines files go in batches of lines so that the progress bar moves and no request is huge.
It prints the counts and every rejected item with its problems, and exits 1 if any was rejected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from prereview.core.client import (
    DEFAULT_SERVER,
    ApiClient,
    JsonOption,
    ServerOption,
    console,
    errors,
    escape,
    field,
    show,
)

vuln = typer.Typer(help="Vulnerability reports in the clearinghouse.", no_args_is_help=True)

SUFFIXES = (".json", ".jsonl", ".ndjson", ".yaml", ".yml")
REPORT_COLUMNS = [
    ("id", field("id")),
    ("tlp", field("tlp")),
    ("title", field("title")),
    ("cvss 3.1", field("cvss_v3.base_score")),
    ("cvss 4.0", field("cvss_v4.base_score")),
    ("merged into", field("merged_into")),
    ("published", field("published_at")),
]


def report_files(path: Path) -> list[Path]:
    """The file itself, or the report files of a folder (recursively, in name order)."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    return [path]


def _batches(path: Path, lines_per_batch: int) -> list[bytes]:
    data = path.read_bytes()
    if path.suffix.lower() not in (".jsonl", ".ndjson"):
        return [data]
    lines = data.splitlines(keepends=True)
    return [
        b"".join(lines[start : start + lines_per_batch])
        for start in range(0, len(lines), lines_per_batch)
    ] or [data]


def _format_for(path: Path, chosen: str | None) -> str | None:
    if chosen:
        return chosen
    return "jsonl" if path.suffix.lower() in (".jsonl", ".ndjson") else None


@vuln.command("import")
def import_reports(
    path: Annotated[Path, typer.Argument(exists=True, help="A report file, or a folder of them.")],
    intake_format: Annotated[
        str | None,
        typer.Option("--format", help="jsonl, osv, csaf or report (default: detected)."),
    ] = None,
    recipient: Annotated[
        list[str] | None, typer.Option(help="An organisation id to share TLP:RED reports with.")
    ] = None,
    batch_lines: Annotated[int, typer.Option(min=1, help="JSON Lines per request.")] = 5000,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Import vulnerability reports in bulk: JSON Lines, OSV (JSON or YAML) or CSAF 2.0."""
    client = ApiClient(server, timeout=600.0)
    files = report_files(path)
    if not files:
        errors.print(f"[red]error:[/] no report files ({', '.join(SUFFIXES)}) under {path}")
        raise typer.Exit(1)
    plan = [(file, batch) for file in files for batch in _batches(file, batch_lines)]
    counts: dict[str, int] = {}
    rejected: list[tuple[Path, dict[str, Any]]] = []
    outcomes: list[dict[str, Any]] = []
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=errors,
    )
    with progress:
        task = progress.add_task("importing", total=len(plan))
        for file, batch in plan:
            progress.update(task, description=f"importing {file.name}")
            params: dict[str, Any] = {"filename": file.name}
            chosen = _format_for(file, intake_format)
            if chosen:
                params["format"] = chosen
            if recipient:
                params["recipients"] = recipient
            result = client.request(
                "POST",
                "/clearinghouse/imports",
                content=batch,
                params=params,
                headers={"Content-Type": "application/octet-stream"},
            )
            for status, number in result["counts"].items():
                counts[status] = counts.get(status, 0) + number
            for item in result["items"]:
                outcomes.append({"file": str(file), **item})
                if item["status"] == "rejected":
                    rejected.append((file, item))
            progress.advance(task)
    if as_json:
        show({"counts": counts, "items": outcomes}, True)
    else:
        show([counts], False, title=f"{len(files)} file(s)")
        for file, item in rejected:
            errors.print(f"[red]rejected[/] {escape(file.name)} {escape(str(item['location']))}:")
            for problem in item.get("errors", []):
                errors.print(
                    f"  - {escape(str(problem['path']))}: {escape(str(problem['message']))}"
                )
    if rejected:
        raise typer.Exit(1)


@vuln.command("list")
def list_reports(
    tlp: Annotated[str | None, typer.Option(help="Only this TLP label (e.g. AMBER).")] = None,
    package: Annotated[
        str | None, typer.Option(help="Only reports on this package, e.g. pkg:pypi/name.")
    ] = None,
    limit: int = 50,
    offset: int = 0,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """The reports your organisation may read (by TLP), newest first."""
    found = ApiClient(server).get(
        "/clearinghouse/reports", tlp=tlp, package=package, limit=limit, offset=offset
    )
    show(found, as_json, REPORT_COLUMNS)


@vuln.command("show")
def show_report(
    report_id: str, server: ServerOption = DEFAULT_SERVER, as_json: JsonOption = False
) -> None:
    """One report: CVSS 3.1 and 4.0 side by side, products, how it was found."""
    report = ApiClient(server).get(f"/clearinghouse/reports/{report_id}")
    if as_json:
        show(report, True)
        return
    console.print(
        f"[bold]{escape(report['id'])}[/]  TLP:{escape(report['tlp'])}  {escape(report['title'])}"
    )
    for name in ("cvss_v3", "cvss_v4"):
        score = report.get(name)
        if score:
            line = f"  {name}: {score['base_score']} {score['severity']}  {score['vector']}"
            console.print(line, markup=False)
    for product in report["affected"]:
        console.print(f"  affects {product.get('purl') or product.get('cpe')}", markup=False)
    if report.get("discovered_by"):
        console.print(f"  found by {report['discovered_by']}", markup=False)
    console.print(report["description"], markup=False)


claims = typer.Typer(
    help="Product claims: a vendor's or partner's claim confers a need to know only once "
    "a clearinghouse analyst verified it.",
    no_args_is_help=True,
)
vuln.add_typer(claims, name="claims")
CLAIM_COLUMNS = [
    ("id", field("id")),
    ("organisation", field("org_id")),
    ("role", field("role")),
    ("identifier", field("identifier")),
    ("status", field("status")),
    ("challenge", field("challenge")),
    ("proof", field("proof")),
    ("claimed", field("created_at")),
]


@claims.command("list")
def list_claims(
    status: Annotated[
        str, typer.Option(help="claimed (waiting for a decision), verified, rejected, revoked, all")
    ] = "claimed",
    limit: int = 50,
    offset: int = 0,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """The product claims waiting for an analyst (or those in another state), oldest first."""
    found = ApiClient(server).get(
        "/clearinghouse/claims", status=status, limit=limit, offset=offset
    )
    show(found, as_json, CLAIM_COLUMNS)


def _decide(decision: str, claim_id: str, note: str, server: str, as_json: bool) -> None:
    row = ApiClient(server).post(
        f"/clearinghouse/claims/{claim_id}/decision", {"decision": decision, "note": note}
    )
    show(row, as_json)


NoteOption = Annotated[str, typer.Option(help="What was checked (kept with the decision).")]


@claims.command("verify")
def verify_claim(
    claim_id: str,
    note: NoteOption = "",
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Verify a claim after checking its proof (signed statement, DNS TXT or URL challenge)."""
    _decide("verify", claim_id, note, server, as_json)


@claims.command("reject")
def reject_claim(
    claim_id: str,
    note: NoteOption = "",
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Reject a claim whose proof does not hold."""
    _decide("reject", claim_id, note, server, as_json)


@claims.command("revoke")
def revoke_claim(
    claim_id: str,
    note: NoteOption = "",
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Revoke a verified claim: its need to know ends at once."""
    _decide("revoke", claim_id, note, server, as_json)


def register(app: typer.Typer) -> None:
    app.add_typer(vuln, name="vuln")
