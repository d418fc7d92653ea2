"""Command line of the review workflow: submissions, the window, grants, nominations, findings."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

import typer

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
    YesOption,
    audit_filters,
    confirm,
    escape,
    field,
    organisation,
    show,
)
from prereview.core.markings import TLP, Marking
from prereview.review.kinds import (
    Access,
    FindingCategory,
    Modality,
    ResponseStatus,
    Severity,
)

submissions = typer.Typer(help="Models submitted for review.", no_args_is_help=True)
windows = typer.Typer(help="The review window of a submission.", no_args_is_help=True)
grants = typer.Typer(help="Agencies' access to a submission.", no_args_is_help=True)
nominations = typer.Typer(help="Trusted partners proposed by agencies.", no_args_is_help=True)
findings = typer.Typer(
    help="Advisory findings and the developer's responses.", no_args_is_help=True
)

SUBMISSION_COLUMNS = [
    ("id", field("id")),
    ("model", lambda r: f"{r['model_name']} {r['model_version']}"),
    ("window", field("window.state")),
    ("closes", field("window.closes_at")),
    ("released", field("released_at")),
    ("withdrawn", field("withdrawn_at")),
]
GRANT_COLUMNS = [
    ("id", field("id")),
    ("agency", organisation("agency_org_id")),
    ("granted", field("granted_at")),
    ("revoked", field("revoked_at")),
    ("active", field("active")),
]
NOMINATION_COLUMNS = [
    ("id", field("id")),
    ("partner", organisation("partner_org_id")),
    ("by agency", organisation("agency_org_id")),
    ("status", field("status")),
    ("reason", field("reason")),
]
# Tables too wide for the terminal leave columns out from the right (prereview.core.tables):
# what a person reads first comes first.
FINDING_COLUMNS = [
    ("id", field("id")),
    ("title", field("title")),
    ("severity", field("severity")),
    ("status", field("status")),
    ("category", field("category")),
]
QUEUE_COLUMNS = [
    ("submission", field("submission_id")),
    ("model", lambda r: f"{r['model_name']} {r['model_version']}"),
    ("time left", lambda r: _countdown(r["window"]["seconds_left"])),
    ("window", field("window.state")),
    ("closes", field("window.closes_at")),
    ("my findings", field("my_findings")),
    ("developer", organisation("developer_org_id")),
]
_CONTACT = re.compile(r"^\s*(?P<name>[^<]+?)\s*<(?P<email>[^>]+)>\s*(?:\((?P<role>[^)]*)\))?\s*$")


def _countdown(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    return f"{days}d {hours}h {rest // 60}m"


def _contact(text: str) -> dict[str, str]:
    match = _CONTACT.match(text)
    if not match:
        raise typer.BadParameter(f"'{text}' is not 'Name <email>' or 'Name <email> (role)'")
    return {"name": match["name"], "email": match["email"], "role": match["role"] or ""}


def _when(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"'{text}' is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise typer.BadParameter(f"'{text}' has no time zone; add Z or an offset like +00:00")
    return moment.isoformat()


@submissions.command("create")
def submission_create(
    model_name: Annotated[str, typer.Option(help="The model's name.")],
    model_version: Annotated[str, typer.Option(help="Its version.")],
    description: Annotated[str, typer.Option()] = "",
    modality: Annotated[list[Modality] | None, typer.Option(help="Repeat for each.")] = None,
    training_compute_flop: Annotated[float | None, typer.Option(help="e.g. 3e25")] = None,
    parameter_count: Annotated[int | None, typer.Option()] = None,
    planned_release_at: Annotated[str | None, typer.Option(help="ISO 8601 with time zone.")] = None,
    access: Annotated[list[Access] | None, typer.Option(help="What you offer; repeat.")] = None,
    contact: Annotated[
        list[str] | None, typer.Option(help="'Name <email> (role)'; repeat.")
    ] = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Register a model for review."""
    body: dict[str, Any] = {
        "model_name": model_name,
        "model_version": model_version,
        "description": description,
        "training_compute_flop": training_compute_flop,
        "parameter_count": parameter_count,
        "planned_release_at": _when(planned_release_at),
        "contacts": [_contact(c) for c in contact or []],
    }
    if modality:
        body["modalities"] = [m.value for m in modality]
    if access:
        body["access_offered"] = [a.value for a in access]
    show(ApiClient(server).post("/submissions", body), as_json)


@submissions.command("list")
def submission_list(
    limit: int = 50,
    offset: int = 0,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Your submissions, or (reviewers) those you can work on now."""
    show(
        ApiClient(server).get("/submissions", limit=limit, offset=offset),
        as_json,
        SUBMISSION_COLUMNS,
    )


@submissions.command("show")
def submission_show(
    submission_id: str, server: ServerOption = DEFAULT_SERVER, as_json: JsonOption = False
) -> None:
    """One submission, with its window."""
    show(ApiClient(server).get(f"/submissions/{submission_id}"), as_json)


@submissions.command("update")
def submission_update(
    submission_id: str,
    planned_release_at: Annotated[
        str | None, typer.Option(help="New planned release, ISO 8601.")
    ] = None,
    clear_release_date: Annotated[bool, typer.Option(help="Remove the planned date.")] = False,
    description: Annotated[str | None, typer.Option()] = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Change the planned release date or the description (the developer, at any time)."""
    body: dict[str, Any] = {}
    if clear_release_date:
        body["planned_release_at"] = None
    elif planned_release_at is not None:
        body["planned_release_at"] = _when(planned_release_at)
    if description is not None:
        body["description"] = description
    if not body:
        raise typer.BadParameter(
            "nothing to change: give --planned-release-at, --clear-release-date or --description"
        )
    show(ApiClient(server).request("PATCH", f"/submissions/{submission_id}", json=body), as_json)


@submissions.command("release")
def submission_release(
    submission_id: str,
    yes: YesOption = False,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Declare the model publicly released; every grant ends now (asks first; --yes skips)."""
    confirm(
        f"Releasing {escape(submission_id)} closes its review window now: every grant and "
        "gateway key on it ends and reviewers lose access to the model.",
        yes,
    )
    show(ApiClient(server).post(f"/submissions/{submission_id}/release"), as_json)


@submissions.command("withdraw")
def submission_withdraw(
    submission_id: str,
    reason: Annotated[str, typer.Option()] = "",
    yes: YesOption = False,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Withdraw the submission; every grant ends now (asks first; --yes skips)."""
    confirm(
        f"Withdrawing {escape(submission_id)} ends every grant on it now and destroys its "
        "materials' keys (crypto-shredding): the materials can never be read again.",
        yes,
    )
    show(
        ApiClient(server).post(f"/submissions/{submission_id}/withdraw", {"reason": reason}),
        as_json,
    )


@submissions.command("audit")
def submission_audit(
    submission_id: str,
    actor: ActorOption = None,
    action: ActionOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    oldest_first: OldestFirstOption = False,
    limit: int = 50,
    offset: int = 0,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Who touched what in your submission (the developer), newest first."""
    client = ApiClient(server)
    data = client.get(
        f"/submissions/{submission_id}/audit",
        limit=limit,
        offset=offset,
        **audit_filters(actor, action, since, until, oldest_first),
    )
    columns = [
        ("seq", field("seq")),
        ("at", field("at")),
        ("action", field("action")),
        ("organisation", organisation("actor_org_id")),
        ("object", field("object_id")),
    ]
    show(data, as_json, columns, names=client)


@windows.command("show")
def window_show(
    submission_id: str, server: ServerOption = DEFAULT_SERVER, as_json: JsonOption = False
) -> None:
    """The window's state and countdown."""
    data = ApiClient(server).get(f"/submissions/{submission_id}/window")
    if not as_json:
        data = data | {"time_left": _countdown(data["seconds_left"])}
    show(data, as_json)


@windows.command("set")
def window_set(
    submission_id: str,
    days: Annotated[int, typer.Option(help="Length from its opening, within the policy maximum.")],
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Shorten or lengthen the open window."""
    data = ApiClient(server).request(
        "PUT", f"/submissions/{submission_id}/window", json={"days": days}
    )
    show(data, as_json)


@grants.command("create")
def grant_create(
    submission_id: str,
    agency: Annotated[str, typer.Option(help="The agency's organisation id.")],
    window_days: Annotated[
        int | None, typer.Option(help="Window length (first grant only).")
    ] = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Grant an agency access; the first grant opens the window."""
    body = {"agency_org_id": agency, "window_days": window_days}
    show(ApiClient(server).post(f"/submissions/{submission_id}/grants", body), as_json)


@grants.command("list")
def grant_list(
    submission_id: str,
    limit: int = 50,
    offset: int = 0,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Grants on a submission."""
    client = ApiClient(server)
    data = client.get(f"/submissions/{submission_id}/grants", limit=limit, offset=offset)
    show(data, as_json, GRANT_COLUMNS, names=client)


@grants.command("revoke")
def grant_revoke(
    submission_id: str,
    grant_id: str,
    yes: YesOption = False,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """End one agency's access now (asks first; --yes skips)."""
    confirm(
        f"Revoking grant {escape(grant_id)} ends that agency's access to "
        f"{escape(submission_id)} now, through the API and the gateway; only a new grant "
        "gives it back.",
        yes,
    )
    show(ApiClient(server).post(f"/submissions/{submission_id}/grants/{grant_id}/revoke"), as_json)


@nominations.command("create")
def nomination_create(
    submission_id: str,
    partner: Annotated[str, typer.Option(help="The trusted partner's organisation id.")],
    reason: Annotated[str, typer.Option(help="Why this partner should test the model.")],
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Propose a trusted partner (agencies); the developer decides."""
    body = {"partner_org_id": partner, "reason": reason}
    show(ApiClient(server).post(f"/submissions/{submission_id}/nominations", body), as_json)


@nominations.command("list")
def nomination_list(
    submission_id: str,
    limit: int = 50,
    offset: int = 0,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Nominations on a submission."""
    client = ApiClient(server)
    data = client.get(f"/submissions/{submission_id}/nominations", limit=limit, offset=offset)
    show(data, as_json, NOMINATION_COLUMNS, names=client)


def _decide(verb: str) -> Any:
    def decide(
        submission_id: str,
        nomination_id: str,
        note: Annotated[str, typer.Option()] = "",
        server: ServerOption = DEFAULT_SERVER,
        as_json: JsonOption = False,
    ) -> None:
        path = f"/submissions/{submission_id}/nominations/{nomination_id}/{verb}"
        show(ApiClient(server).post(path, {"note": note}), as_json)

    decide.__doc__ = f"{verb.capitalize()} a nominated partner (the developer)."
    return decide


nominations.command("consent")(_decide("consent"))
nominations.command("decline")(_decide("decline"))


@findings.command("create")
def finding_create(
    submission_id: str,
    title: Annotated[str, typer.Option()],
    description: Annotated[str, typer.Option()],
    severity: Annotated[Severity, typer.Option()],
    category: Annotated[FindingCategory, typer.Option()],
    mitigation: Annotated[str, typer.Option(help="Recommended mitigation.")] = "",
    tlp: Annotated[
        TLP, typer.Option(help="How far the developer may pass it on.")
    ] = TLP.AMBER_STRICT,
    marking: Annotated[list[Marking] | None, typer.Option(help="Repeat for each.")] = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """File an advisory finding (reviewers, while the window is open)."""
    body = {
        "title": title,
        "description": description,
        "severity": severity.value,
        "category": category.value,
        "recommended_mitigation": mitigation,
        "tlp": tlp.value,
        "markings": [m.value for m in marking or []],
    }
    show(ApiClient(server).post(f"/submissions/{submission_id}/findings", body), as_json)


@findings.command("list")
def finding_list(
    submission_id: str,
    limit: int = 50,
    offset: int = 0,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Findings on a submission (reviewers see their own)."""
    data = ApiClient(server).get(
        f"/submissions/{submission_id}/findings", limit=limit, offset=offset
    )
    show(data, as_json, FINDING_COLUMNS)


@findings.command("show")
def finding_show(
    finding_id: str, server: ServerOption = DEFAULT_SERVER, as_json: JsonOption = False
) -> None:
    """One finding with its responses."""
    show(ApiClient(server).get(f"/findings/{finding_id}"), as_json)


@findings.command("respond")
def finding_respond(
    finding_id: str,
    status: Annotated[ResponseStatus, typer.Option()],
    text: Annotated[str, typer.Option()],
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Answer a finding (the developer)."""
    body = {"status": status.value, "text": text}
    show(ApiClient(server).post(f"/findings/{finding_id}/responses", body), as_json)


def queue(
    limit: int = 50,
    offset: int = 0,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Your review queue: open windows, soonest closing first."""
    client = ApiClient(server)
    data = client.get("/queue", limit=limit, offset=offset)
    show(data, as_json, QUEUE_COLUMNS, title="Review queue", names=client)


def register(app: typer.Typer) -> None:
    app.add_typer(submissions, name="submission")
    app.add_typer(windows, name="window")
    app.add_typer(grants, name="grant")
    app.add_typer(nominations, name="nomination")
    app.add_typer(findings, name="finding")
    app.command("queue")(queue)
