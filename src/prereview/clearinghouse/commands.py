"""Command line of the clearinghouse: ``prereview vuln import|list|show|publish|export``,
coordinated disclosure (``vuln case create|list|show|add|embargo|vendors|vendor-status|
message|messages``), the disclosure funnel (``vuln funnel``) and,
for analysts, ``vuln duplicates list|merge|reject|reopen`` and
``vuln claims list|verify|reject|revoke``. Every command is a call of the HTTP API.

``vuln import`` sends a file, or every report file of a folder, to the server's bulk intake;
JSON Lines files go in batches of lines so that the progress bar moves and no request is huge,
and one-record OSV files (an advisory database's folder) are packed many to a request
(:mod:`.intake.files`). It prints the counts and every rejected item with its problems, and
exits 1 if any was rejected.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from prereview.clearinghouse.intake.files import FILES_PER_REQUEST, plan_requests, send
from prereview.core.client import (
    DEFAULT_SERVER,
    ApiClient,
    CommandFailed,
    JsonOption,
    ServerOption,
    YesOption,
    confirm,
    console,
    errors,
    escape,
    field,
    organisation,
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
    batch_files: Annotated[
        int, typer.Option(min=1, help="One-record OSV files (JSON or YAML) per request.")
    ] = FILES_PER_REQUEST,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Import vulnerability reports in bulk: JSON Lines, OSV (JSON or YAML) or CSAF 2.0.

    A folder of one-record OSV files (an advisory database) goes in requests of
    ``--batch-files`` files; each item is still reported against its own file."""
    client = ApiClient(server, timeout=600.0)
    files = report_files(path)
    if not files:
        errors.print(f"[red]error:[/] no report files ({', '.join(SUFFIXES)}) under {path}")
        raise typer.Exit(1)
    plan = plan_requests(files, intake_format, batch_lines, files_per_request=batch_files)
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
        for request in plan:
            more = f" and {len(request.files) - 1} more" if len(request.files) > 1 else ""
            progress.update(task, description=f"importing {request.files[0].name}{more}")
            answered, items = send(client, request, recipient or [])
            for status, number in answered.items():
                counts[status] = counts.get(status, 0) + number
            for file, item in items:
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
    ("organisation", organisation("org_id")),
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
    client = ApiClient(server)
    found = client.get("/clearinghouse/claims", status=status, limit=limit, offset=offset)
    show(found, as_json, CLAIM_COLUMNS, names=client)


def _decide(decided: str, decision: str, note: str, server: str, as_json: bool) -> None:
    """POST an analyst's decision (with its note) to ``decided``'s decision route."""
    row = ApiClient(server).post(f"{decided}/decision", {"decision": decision, "note": note})
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
    _decide(f"/clearinghouse/claims/{claim_id}", "verify", note, server, as_json)


@claims.command("reject")
def reject_claim(
    claim_id: str,
    note: NoteOption = "",
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Reject a claim whose proof does not hold."""
    _decide(f"/clearinghouse/claims/{claim_id}", "reject", note, server, as_json)


@claims.command("revoke")
def revoke_claim(
    claim_id: str,
    note: NoteOption = "",
    yes: YesOption = False,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Revoke a verified claim: its need to know ends at once (asks first; --yes skips)."""
    confirm(
        f"Revoking {escape(claim_id)} ends its organisation's need to know at once: it loses "
        "access to the reports and cases the claim gave it.",
        yes,
    )
    _decide(f"/clearinghouse/claims/{claim_id}", "revoke", note, server, as_json)


@vuln.command("publish")
def publish_report(
    report_id: str,
    tlp: Annotated[
        str | None, typer.Option(help="Publish under this TLP label (default: the report's).")
    ] = None,
    yes: YesOption = False,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Publish a report as an advisory, exportable by everyone its TLP allows (asks first;
    --yes skips)."""
    confirm(
        f"Publishing {escape(report_id)} makes it an advisory that every organisation its TLP "
        "allows may read and export; a publication cannot be taken back.",
        yes,
    )
    body = {"tlp": tlp} if tlp else None
    show(ApiClient(server).post(f"/clearinghouse/reports/{report_id}/publish", body), as_json)


EXPORT_FORMATS = ("csaf", "osv", "cve", "stix")


@vuln.command("export")
def export_advisory(
    report_id: str,
    export_format: Annotated[
        str, typer.Option("--format", help="csaf (2.0), osv, cve (CVE 5) or stix (2.1).")
    ] = "csaf",
    profile: Annotated[
        str, typer.Option(help="CSAF only: advisory (security advisory) or vex.")
    ] = "advisory",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write (default: REPORT.FORMAT.json)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the file if it already exists.")
    ] = False,
    server: ServerOption = DEFAULT_SERVER,
) -> None:
    """Export a published advisory as CSAF, OSV, CVE or STIX JSON; an existing file is kept
    unless --force."""
    if export_format not in EXPORT_FORMATS:
        errors.print(
            f"[red]error:[/] --format must be one of {', '.join(EXPORT_FORMATS)}, "
            f"not {escape(export_format)}"
        )
        raise CommandFailed(2)
    # Only the last path component of the report id: an id never chooses the directory.
    target = output or Path(Path(f"{report_id}.{export_format}.json").name)
    if target.exists() and not force:
        errors.print(
            f"[red]error:[/] {escape(str(target))} already exists; nothing was exported. "
            "Pass --force to replace it, or --output to write somewhere else."
        )
        raise CommandFailed(1)
    params = {"profile": profile} if export_format == "csaf" else {}
    document = ApiClient(server).get(
        f"/clearinghouse/advisories/{report_id}.{export_format}.json", **params
    )
    target.write_text(json.dumps(document, indent=2) + "\n")
    console.print(f"{target} ({export_format})", markup=False)


duplicates = typer.Typer(
    help="Proposed duplicates: an analyst merges a report into the one it repeats, or rejects "
    "the proposal.",
    no_args_is_help=True,
)
vuln.add_typer(duplicates, name="duplicates")
DUPLICATE_COLUMNS = [
    ("id", field("id")),
    ("report", field("report_id")),
    ("duplicate of", field("candidate_id")),
    ("similarity", field("similarity")),
    ("same code", field("same_code")),
    ("status", field("status")),
    ("decided", field("decided_at")),
]


@duplicates.command("list")
def list_duplicates(
    status: Annotated[
        str | None, typer.Option(help="Only proposed, merged or rejected ones.")
    ] = None,
    limit: int = 50,
    offset: int = 0,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """The duplicate proposals: each names a report and the earlier one it may repeat."""
    found = ApiClient(server).get(
        "/clearinghouse/duplicates", status=status, limit=limit, offset=offset
    )
    show(found, as_json, DUPLICATE_COLUMNS)


@duplicates.command("merge")
def merge_duplicate(
    duplicate_id: str,
    note: NoteOption = "",
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Merge the report into the one it duplicates (reopen undoes it)."""
    _decide(f"/clearinghouse/duplicates/{duplicate_id}", "merge", note, server, as_json)


@duplicates.command("reject")
def reject_duplicate(
    duplicate_id: str,
    note: NoteOption = "",
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Reject the proposal: the two reports are different findings."""
    _decide(f"/clearinghouse/duplicates/{duplicate_id}", "reject", note, server, as_json)


@duplicates.command("reopen")
def reopen_duplicate(
    duplicate_id: str,
    note: NoteOption = "",
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Reopen a decided proposal (a merged report stands alone again)."""
    _decide(f"/clearinghouse/duplicates/{duplicate_id}", "reopen", note, server, as_json)


case = typer.Typer(
    help="Coordinated disclosure cases: reports, the vendors told of them, their statuses and "
    "the embargo.",
    no_args_is_help=True,
)
vuln.add_typer(case, name="case")
CASE_COLUMNS = [
    ("id", field("id")),
    ("title", field("title")),
    ("tlp", field("tlp")),
    ("reports", field("report_ids")),
    ("vendors", field("vendor_count")),
    ("embargo until", field("embargo.local")),
    ("public", field("embargo.public")),
]
ReportsOption = Annotated[
    list[str] | None, typer.Option("--report", help="A report id (repeat for more).")
]
VendorsOption = Annotated[
    list[str] | None, typer.Option("--vendor", help="A vendor organisation id (repeat).")
]
ZoneOption = Annotated[
    str, typer.Option("--zone", help="The embargo's time zone, e.g. America/New_York.")
]


@case.command("create")
def create_case(
    title: Annotated[str, typer.Option(help="What the case is about.")],
    tlp: Annotated[str, typer.Option(help="The case's TLP label.")] = "AMBER",
    reports: ReportsOption = None,
    vendors: VendorsOption = None,
    embargo_until: Annotated[
        str | None,
        typer.Option(help="When the embargo ends (ISO 8601 with offset; default 90 days)."),
    ] = None,
    zone: ZoneOption = "UTC",
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Open a case on reports and notify its vendors."""
    body: dict[str, Any] = {
        "title": title,
        "tlp": tlp,
        "report_ids": reports or [],
        "vendor_org_ids": vendors or [],
        "embargo_zone": zone,
    }
    if embargo_until:
        body["embargo_until"] = embargo_until
    show(ApiClient(server).post("/clearinghouse/cases", body), as_json)


@case.command("list")
def list_cases(
    limit: int = 50,
    offset: int = 0,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """The cases you take part in."""
    found = ApiClient(server).get("/clearinghouse/cases", limit=limit, offset=offset)
    show(found, as_json, CASE_COLUMNS)


@case.command("show")
def show_case(
    case_id: str, server: ServerOption = DEFAULT_SERVER, as_json: JsonOption = False
) -> None:
    """One case: its reports, embargo (in its zone) and the embargo's changes."""
    show(ApiClient(server).get(f"/clearinghouse/cases/{case_id}"), as_json)


@case.command("add")
def add_to_case(
    case_id: str,
    reports: ReportsOption = None,
    vendors: VendorsOption = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Add reports or vendors to a case (new vendors are notified)."""
    body = {"report_ids": reports or [], "vendor_org_ids": vendors or []}
    show(ApiClient(server).post(f"/clearinghouse/cases/{case_id}/members", body), as_json)


@case.command("embargo")
def change_embargo(
    case_id: str,
    until: Annotated[str, typer.Option(help="The new end (ISO 8601 with offset).")],
    reason: Annotated[str, typer.Option(help="Why it changes (kept in the history).")],
    zone: ZoneOption = "UTC",
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Move a case's embargo; the change and its reason are kept."""
    body = {"embargo_until": until, "embargo_zone": zone, "reason": reason}
    show(
        ApiClient(server).request("PUT", f"/clearinghouse/cases/{case_id}/embargo", json=body),
        as_json,
    )


@case.command("vendors")
def vendor_table(
    case_id: str,
    limit: int = 50,
    offset: int = 0,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Each vendor's status on each report of the case."""
    client = ApiClient(server)
    table = client.get(f"/clearinghouse/cases/{case_id}/vendors", limit=limit, offset=offset)
    if as_json:
        show(table, True)
        return
    reports = sorted({rid for row in table["items"] for rid in row["statuses"]})
    columns = [("vendor", organisation("vendor_org_id"))] + [
        (rid, lambda row, rid=rid: row["statuses"].get(rid, {}).get("status")) for rid in reports
    ]
    show(table, False, columns, names=client)


@case.command("vendor-status")
def set_vendor_status(
    case_id: str,
    org_id: str,
    report_id: str,
    state: Annotated[
        str,
        typer.Option(
            "--status",
            help="no_response, under_investigation, affected, not_affected or fixed.",
        ),
    ],
    statement: Annotated[str, typer.Option(help="The vendor's statement.")] = "",
    justification: Annotated[
        str | None, typer.Option(help="Why not affected (a CSAF VEX justification).")
    ] = None,
    due: Annotated[str | None, typer.Option(help="The day it is due (YYYY-MM-DD).")] = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """State a vendor's status on one report of a case."""
    body = {"status": state, "statement": statement, "justification": justification}
    if due:
        body["due_on"] = due
    path = f"/clearinghouse/cases/{case_id}/vendors/{org_id}/statuses/{report_id}"
    show(ApiClient(server).request("PUT", path, json=body), as_json)


MESSAGE_COLUMNS = [
    ("when", field("created_at")),
    ("from", field("author_org_name")),
    ("who", field("author_name")),
    ("message", field("text")),
]


ThreadOption = Annotated[
    str | None,
    typer.Option(
        "--vendor",
        help="A vendor's private thread with the coordinators (its organisation id); "
        "default: the thread of all the case's members.",
    ),
]


def _thread(case_id: str, vendor: str | None) -> str:
    base = f"/clearinghouse/cases/{case_id}"
    return f"{base}/vendors/{vendor}/messages" if vendor else f"{base}/messages"


@case.command("message")
def post_case_message(
    case_id: str,
    text: Annotated[str, typer.Argument(help="The message, for the case's vendors and analysts.")],
    vendor: ThreadOption = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Post a message to a case's thread (its vendors and the clearinghouse read it), or with
    --vendor to that vendor's private thread (that vendor and the clearinghouse only)."""
    show(ApiClient(server).post(_thread(case_id, vendor), {"text": text}), as_json)


@case.command("messages")
def list_case_messages(
    case_id: str,
    vendor: ThreadOption = None,
    limit: int = 50,
    offset: int = 0,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """A case's thread (or with --vendor, a vendor's private thread), oldest first."""
    found = ApiClient(server).get(_thread(case_id, vendor), limit=limit, offset=offset)
    show(found, as_json, MESSAGE_COLUMNS)


@case.command("cell")
def set_case_cell(
    case_id: str,
    org_id: str,
    product: Annotated[str, typer.Argument(help="A product of the case (its package key).")],
    state: Annotated[
        str,
        typer.Option(
            "--status",
            help="unknown, under_investigation, affected, not_affected or fixed.",
        ),
    ],
    statement: Annotated[str, typer.Option(help="The vendor's statement.")] = "",
    justification: Annotated[
        str | None, typer.Option(help="Why not affected (a VEX justification).")
    ] = None,
    due: Annotated[
        str | None, typer.Option(help="The day it is due (YYYY-MM-DD; default: the embargo's).")
    ] = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Set a vendor's status for one product of a case (its cell of the grid)."""
    body = {
        "product": product,
        "status": state,
        "statement": statement,
        "justification": justification,
    }
    if due:
        body["due_on"] = due
    path = f"/clearinghouse/cases/{case_id}/vendors/{org_id}/cells"
    show(ApiClient(server).request("PUT", path, json=body), as_json)


@case.command("remove-vendor")
def remove_case_vendor(
    case_id: str, org_id: str, server: ServerOption = DEFAULT_SERVER, as_json: JsonOption = False
) -> None:
    """Take a vendor off a case: it loses the case and its private thread at once."""
    path = f"/clearinghouse/cases/{case_id}/vendors/{org_id}"
    show(ApiClient(server).request("DELETE", path), as_json)


def register(app: typer.Typer) -> None:
    from prereview.clearinghouse.federation_commands import federation_app

    vuln.add_typer(federation_app, name="federation")
    app.add_typer(vuln, name="vuln")


capacity = typer.Typer(
    help="A vendor's weekly capacity for new reports: its notifications are paced to it.",
    no_args_is_help=True,
)
vuln.add_typer(capacity, name="capacity")
OrgOption = Annotated[
    str | None, typer.Option("--org", help="The vendor organisation (default: your own).")
]


def _vendor(client: ApiClient, org: str | None) -> str:
    return org or str(client.get("/me")["organisation"]["id"])


@capacity.command("set")
def set_capacity(
    per_week: Annotated[int, typer.Argument(help="New reports per week (0: none for now).")],
    org: OrgOption = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """State how many new reports the vendor takes per week (its administrators)."""
    client = ApiClient(server)
    path = f"/clearinghouse/vendors/{_vendor(client, org)}/capacity"
    show(client.request("PUT", path, json={"per_week": per_week}), as_json)


@capacity.command("show")
def show_capacity(
    org: OrgOption = None, server: ServerOption = DEFAULT_SERVER, as_json: JsonOption = False
) -> None:
    """The vendor's capacity, what it was told in the last 7 days, and what waits."""
    client = ApiClient(server)
    show(client.get(f"/clearinghouse/vendors/{_vendor(client, org)}/capacity"), as_json)


@vuln.command("funnel")
def show_funnel(
    since: Annotated[str | None, typer.Option(help="Reports found from (RFC 3339).")] = None,
    until: Annotated[str | None, typer.Option(help="Reports found before (RFC 3339).")] = None,
    org: Annotated[str | None, typer.Option("--vendor", help="One vendor's row only.")] = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """The disclosure funnel: reports found, triaged, reproduced, notified, acknowledged,
    fixed and disclosed, per vendor and overall, and the median and 90th-percentile hours
    between consecutive stages (a vendor sees its own row only)."""
    found = ApiClient(server).get("/clearinghouse/funnel", since=since, until=until, vendor=org)
    if as_json:
        show(found, as_json)
        return
    rows = ([found["overall"]] if found["overall"] else []) + found["vendors"]
    stages: list[str] = found["stages"]
    counts = [
        {"vendor": row["vendor_name"] or row["vendor_org_id"] or "overall", **row["counts"]}
        for row in rows
    ]
    show(counts, False, [("vendor", field("vendor"))] + [(s, field(s)) for s in stages])
    latencies = [
        {
            "vendor": row["vendor_name"] or row["vendor_org_id"] or "overall",
            "stages": f"{lat['earlier']} -> {lat['later']}",
            "pairs": lat["pairs"],
            "median h": lat["median_hours"],
            "p90 h": lat["p90_hours"],
        }
        for row in rows
        for lat in row["latencies"]
        if lat["pairs"]
    ]
    if latencies:
        columns = [
            (name, field(name)) for name in ("vendor", "stages", "pairs", "median h", "p90 h")
        ]
        show(latencies, False, columns)
