"""Command line of coverage determinations."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from prereview.core.client import (
    DEFAULT_SERVER,
    ApiClient,
    JsonOption,
    ServerOption,
    console,
    errors,
    field,
    organisation,
    show,
)
from prereview.core.markings import TLP, Marking

if TYPE_CHECKING:
    from rich.table import Table

coverage = typer.Typer(help="Covered-frontier-model determinations.", no_args_is_help=True)
PolicyFile = Annotated[
    Path | None,
    typer.Option("--policy", exists=True, dir_okay=False, readable=True, help="Policy TOML."),
]
Preset = Annotated[str | None, typer.Option("--preset", help="A shipped policy, by name.")]
Runs = Annotated[
    list[str] | None,
    typer.Option(
        "--run",
        help="An evidence run of yours the judgement rests on (repeat); default all of them. "
        "Intervals are corrected for the number of your evidence runs per task either way.",
    ),
]


def _runs(run: list[str] | None) -> dict[str, list[str]]:
    return {"runs": list(run)} if run else {}


NOTICE_COLUMNS = [
    ("determination", field("id")),
    ("agency", organisation("agency_org_id")),
    ("when", field("created_at")),
    ("outcome", lambda r: r["outcome"] or "(not disclosed)"),
]


def _choice(policy: Path | None, preset: str | None) -> dict[str, str]:
    if (policy is None) == (preset is None):
        errors.print("[red]error:[/] give either --policy FILE or --preset NAME")
        raise typer.Exit(2)
    if policy is not None:
        return {"policy": policy.read_text(encoding="utf-8")}
    assert preset is not None
    return {"preset": preset}


def _criteria_table(title: str, criteria: dict[str, Any]) -> Table:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title)
    for name in ("criterion", "status", "what", "evidence"):
        table.add_column(name)

    def add(node: dict[str, Any], depth: int) -> None:
        evidence = node.get("evidence") or {}
        if "runs" in evidence:
            shown = f"best {evidence['best']} over {len(evidence['runs'])} run(s)"
        elif "training_compute_flop" in evidence:
            shown = f"declared {evidence['training_compute_flop']} FLOP"
        else:
            shown = ""
        # Text: the server's words are shown as they are, never read as markup.
        cells = ("  " * depth + node["id"], node["status"], node["description"], shown)
        table.add_row(*(Text(str(cell)) for cell in cells))
        for part in node.get("parts", []):
            add(part, depth + 1)

    add(criteria, 0)
    return table


def _show_judgement(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        show(data, True)
        return
    policy = data["policy"]
    title = (
        f"{policy['id']} {policy['version']} (sha256 {policy['sha256'][:12]}): {data['outcome']}"
    )
    console.print(_criteria_table(title, data["criteria"]))


@coverage.command("determine")
def determine(
    submission_id: str,
    rationale: Annotated[str, typer.Option(help="Why, in the reviewer's words.")],
    policy: PolicyFile = None,
    preset: Preset = None,
    tlp: Annotated[TLP, typer.Option(help="TLP label of the determination.")] = TLP.AMBER_STRICT,
    marking: Annotated[list[Marking] | None, typer.Option(help="Repeat for each.")] = None,
    run: Runs = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Record a determination under a policy (agencies that hold or held a grant). It rests
    on your agency's evidence runs only: results recomputed from gateway-backed logs."""
    body: dict[str, Any] = (
        _choice(policy, preset)
        | _runs(run)
        | {
            "rationale": rationale,
            "tlp": tlp.value,
            "markings": [m.value for m in marking or []],
        }
    )
    data = ApiClient(server).post(f"/submissions/{submission_id}/determinations", body)
    _show_judgement(data, as_json)
    if not as_json:
        console.print(f"recorded {data['id']}", markup=False)


@coverage.command("list")
def list_(
    submission_id: str,
    notices: Annotated[
        bool, typer.Option("--notices", help="As the developer: the notices you are given.")
    ] = False,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Determinations on a submission (agencies), or the developer's notices of them."""
    client = ApiClient(server)
    if notices:
        found = client.get(f"/submissions/{submission_id}/determination-notices")
        show(found, as_json, NOTICE_COLUMNS, names=client)
        return
    found = client.get_all(f"/submissions/{submission_id}/determinations")
    if as_json:
        show(found, True)
        return
    for item in found:
        _show_judgement(item, False)
        console.print(
            f"{item['id']} by {item['reviewer_user_id']} at {item['created_at']}", markup=False
        )
        console.print(f"rationale: {item['rationale']}  [{item['tlp']}]", markup=False)
    if not found:
        console.print("no determinations")


@coverage.command("what-if")
def what_if(
    submission: Annotated[str, typer.Option("--submission", help="The submission to judge.")],
    policy: PolicyFile = None,
    preset: Preset = None,
    run: Runs = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """What a policy would decide on the evidence now; nothing is recorded."""
    data = ApiClient(server).post(
        f"/submissions/{submission}/coverage/what-if", _choice(policy, preset) | _runs(run)
    )
    _show_judgement(data, as_json)


@coverage.command("presets")
def presets(server: ServerOption = DEFAULT_SERVER, as_json: JsonOption = False) -> None:
    """The policies shipped with prereview, with their sources."""
    found = ApiClient(server).get("/coverage/presets")
    show(
        found,
        as_json,
        [
            ("name", field("name")),
            ("title", field("policy.title")),
            ("source", field("policy.source")),
            ("sha256", lambda r: r["policy"]["sha256"][:12]),
        ],
    )


def register(app: typer.Typer) -> None:
    app.add_typer(coverage, name="coverage")
