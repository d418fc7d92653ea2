"""The transparency report's raw figures, computed from audit log entries alone.

The server and ``prereview transparency recompute`` run this same pure function: the server
over the entries it selects from its log up to a checkpoint, the auditor over the entries it
reads through the API (each checked against that checkpoint first). Standard library only.

The entries are the log's leaves (JSON objects with ``seq``, ``at``, ``actor_org_id``,
``action``, ``object_type``, ``object_id``, ``submission_id`` and ``detail``). Every event is
counted in the period its own entry's ``at`` falls in, and nothing after ``as_of`` (the end of
the period, or the moment of a report on a period still running) is read: so the report of a
closed period is the same at any later checkpoint.

What the log does not record is reported as such (:attr:`RawFigures.unrecorded`), never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any

from prereview.transparency.periods import Period

SUBMISSION_CREATE = "review:submission:create"
SUBMISSION_UPDATE = "review:submission:update"
SUBMISSION_RELEASE = "review:submission:release"
SUBMISSION_WITHDRAW = "review:submission:withdraw"
GRANT_CREATE = "review:grant:create"
NOMINATION_DECIDE = "review:nomination:decide"
FINDING_CREATE = "review:finding:create"
FINDING_RESPOND = "review:finding:respond"
DETERMINATION_CREATE = "coverage:determination:create"
REPORT_CREATE = "clearinghouse:report:create"
REPORT_IMPORT = "clearinghouse:report:import"
DUPLICATE_DECIDE = "clearinghouse:duplicate:decide"
ADVISORY_PUBLISH = "clearinghouse:advisory:publish"
CASE_CREATE = "clearinghouse:case:create"
CASE_UPDATE = "clearinghouse:case:update"
VENDOR_STATUS = "clearinghouse:vendor-status:update"
MODEL_LABEL = "clearinghouse:report-model-label:create"
TRIAGE_DECIDE = "clearinghouse:report-triage:create"
POC_VERDICT = "clearinghouse:report-poc:verdict"
NOTIFICATION_DELIVER = "clearinghouse:notification:deliver"

ACTIONS = (
    SUBMISSION_CREATE,
    SUBMISSION_UPDATE,
    SUBMISSION_RELEASE,
    SUBMISSION_WITHDRAW,
    GRANT_CREATE,
    NOMINATION_DECIDE,
    FINDING_CREATE,
    FINDING_RESPOND,
    DETERMINATION_CREATE,
    REPORT_CREATE,
    REPORT_IMPORT,
    DUPLICATE_DECIDE,
    ADVISORY_PUBLISH,
    CASE_CREATE,
    CASE_UPDATE,
    VENDOR_STATUS,
    MODEL_LABEL,
    TRIAGE_DECIDE,
    POC_VERDICT,
    NOTIFICATION_DELIVER,
)
"""The actions the report reads; no read of confidential material is among them."""

SEVERITIES = ("critical", "high", "medium", "low", "informational")
CATEGORIES = (
    "cyber_offense_capability",
    "safeguard_bypass",
    "third_party_vulnerability",
    "other",
)
OUTCOMES = ("covered", "not_covered", "undetermined")


@dataclass(frozen=True, slots=True)
class Relation:
    """``total`` equals the sum of ``parts``: what an adversary can subtract."""

    total: str
    parts: tuple[str, ...]


@dataclass(slots=True)
class RawFigures:
    """Exact figures before disclosure control.

    ``counts`` are the cells (a name to a count); ``hidden`` names cells that are never
    published but are parts of a relation (the findings not answered), so that suppression
    protects them too; ``samples`` are the values behind a median and quartiles (days, hours,
    shares); ``unrecorded`` says, per figure, what the log does not tell.
    """

    counts: dict[str, int] = field(default_factory=dict)
    hidden: set[str] = field(default_factory=set)
    relations: list[Relation] = field(default_factory=list)
    samples: dict[str, list[float]] = field(default_factory=dict)
    ratios: dict[str, tuple[str, str]] = field(default_factory=dict)
    """A share published as ``counts[numerator] / counts[denominator]``."""
    maximum_days: list[int] = field(default_factory=list)
    unrecorded: dict[str, str] = field(default_factory=dict)


def _detail(leaf: Mapping[str, Any]) -> Mapping[str, Any]:
    detail = leaf.get("detail")
    return detail if isinstance(detail, Mapping) else {}


def _at(leaf: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(leaf["at"]))


def _instant(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _hours(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


@dataclass(slots=True)
class _Submission:
    developer: str | None = None
    created_at: datetime | None = None
    planned_release_at: datetime | None = None
    opened_at: datetime | None = None
    ends_at: datetime | None = None
    maximum_days: int | None = None
    released_at: datetime | None = None
    withdrawn_at: datetime | None = None
    first_finding_at: datetime | None = None

    def closes(self, as_of: datetime) -> datetime:
        """When access ended (or ``as_of``, if still open): the earliest way it ends."""
        ends = [as_of]
        for moment in (self.ends_at, self.planned_release_at, self.released_at, self.withdrawn_at):
            if moment is not None:
                ends.append(moment)
        return min(ends)


def _submissions(leaves: list[Mapping[str, Any]]) -> dict[str, _Submission]:
    found: dict[str, _Submission] = {}
    for leaf in leaves:
        sid = leaf.get("submission_id")
        if not isinstance(sid, str):
            continue
        item = found.setdefault(sid, _Submission())
        action, detail, at = leaf.get("action"), _detail(leaf), _at(leaf)
        if action == SUBMISSION_CREATE:
            item.developer = str(leaf.get("actor_org_id"))
            item.created_at = at
            item.planned_release_at = _instant(detail.get("planned_release_at"))
        elif action == SUBMISSION_UPDATE:
            if "planned_release_at" in detail:
                item.planned_release_at = _instant(detail.get("planned_release_at"))
            if "window_ends_at" in detail:
                item.ends_at = _instant(detail.get("window_ends_at"))
        elif action == GRANT_CREATE:
            if item.opened_at is None:
                item.opened_at = at
                days = detail.get("max_window_days")
                item.maximum_days = days if isinstance(days, int) else None
            item.ends_at = _instant(detail.get("window_ends_at")) or item.ends_at
        elif action == SUBMISSION_RELEASE and item.released_at is None:
            item.released_at = at
        elif action == SUBMISSION_WITHDRAW and item.withdrawn_at is None:
            item.withdrawn_at = at
        elif action == FINDING_CREATE and item.first_finding_at is None:
            item.first_finding_at = at
    return found


def _review(
    leaves: list[Mapping[str, Any]], period: Period, as_of: datetime, out: RawFigures
) -> None:
    submissions = _submissions(leaves)
    in_period = [leaf for leaf in leaves if period.holds(_at(leaf))]
    created = {sid for sid, s in submissions.items() if s.created_at and period.holds(s.created_at)}
    opened = {sid for sid, s in submissions.items() if s.opened_at and period.holds(s.opened_at)}
    developers = {submissions[sid].developer for sid in created | opened} - {None}
    out.counts["review.participatingDevelopers"] = len(developers)
    out.counts["review.submissions"] = len(created)
    out.counts["review.windowsOpened"] = len(opened)

    days: list[float] = []
    shares: list[float] = []
    to_first: list[float] = []
    maxima: set[int] = set()
    for sid in sorted(opened):
        item = submissions[sid]
        assert item.opened_at is not None
        used = max(0.0, _hours(item.opened_at, item.closes(as_of)) / 24)
        days.append(used)
        if item.maximum_days:
            maxima.add(item.maximum_days)
            shares.append(used / item.maximum_days)
        if item.first_finding_at is not None and item.first_finding_at >= item.opened_at:
            to_first.append(_hours(item.opened_at, item.first_finding_at))
    out.samples["review.accessDaysUsed"] = days
    out.samples["review.accessShareOfMaximum"] = shares
    out.samples["review.hoursToFirstFinding"] = to_first
    out.maximum_days = sorted(maxima)
    if len(shares) < len(days):
        out.unrecorded["review.accessShareOfMaximum"] = (
            f"{len(days) - len(shares)} window(s) opened before grants recorded the policy "
            "maximum (max_window_days) in the log; they are left out of the share"
        )

    agencies = {
        str(_detail(leaf).get("agency_org_id"))
        for leaf in in_period
        if leaf.get("action") == GRANT_CREATE
    }
    partners = {
        str(_detail(leaf).get("partner_org_id"))
        for leaf in in_period
        if leaf.get("action") == NOMINATION_DECIDE and _detail(leaf).get("status") == "consented"
    }
    out.counts["review.agenciesWithAccess"] = len(agencies)
    out.counts["review.partnersWithAccess"] = len(partners)
    _findings(leaves, in_period, out)
    _determinations(in_period, out)


def _findings(
    leaves: list[Mapping[str, Any]], in_period: list[Mapping[str, Any]], out: RawFigures
) -> None:
    made: dict[str, Mapping[str, Any]] = {}
    for leaf in in_period:
        if leaf.get("action") == FINDING_CREATE:
            made.setdefault(str(leaf.get("object_id")), _detail(leaf))
    answered = {
        str(leaf.get("object_id"))
        for leaf in leaves
        if leaf.get("action") == FINDING_RESPOND and str(leaf.get("object_id")) in made
    }
    total = "review.findings.total"
    out.counts[total] = len(made)
    for name, values, key in (
        ("bySeverity", SEVERITIES, "severity"),
        ("byCategory", CATEGORIES, "category"),
    ):
        cells = tuple(f"review.findings.{name}.{value}" for value in values)
        for cell, value in zip(cells, values, strict=True):
            out.counts[cell] = sum(1 for d in made.values() if d.get(key) == value)
        out.relations.append(Relation(total, cells))
    out.counts["review.findings.answered"] = len(answered)
    out.counts["review.findings.unanswered"] = len(made) - len(answered)
    out.hidden.add("review.findings.unanswered")
    out.relations.append(
        Relation(total, ("review.findings.answered", "review.findings.unanswered"))
    )
    out.ratios["review.findings.answeredShare"] = ("review.findings.answered", total)


def _determinations(in_period: list[Mapping[str, Any]], out: RawFigures) -> None:
    made = [leaf for leaf in in_period if leaf.get("action") == DETERMINATION_CREATE]
    base = "review.determinations"
    out.counts[f"{base}.made"] = len(made)
    parts = []
    for outcome in OUTCOMES:
        cell = f"{base}.{outcome}"
        parts.append(cell)
        out.counts[cell] = sum(1 for leaf in made if _detail(leaf).get("outcome") == outcome)
    undisclosed = f"{base}.outcomeUndisclosed"
    out.counts[undisclosed] = sum(1 for leaf in made if "outcome" not in _detail(leaf))
    parts.append(undisclosed)
    out.relations.append(Relation(f"{base}.made", tuple(parts)))


def _case_reports(leaves: list[Mapping[str, Any]]) -> dict[str, set[str]]:
    reports: dict[str, set[str]] = {}
    for leaf in leaves:
        action, values = leaf.get("action"), _detail(leaf)
        if action == CASE_CREATE:
            listed = values.get("reports")
        elif action == CASE_UPDATE:
            listed = values.get("added_reports")
        else:
            continue
        if isinstance(listed, list):
            reports.setdefault(str(leaf.get("object_id")), set()).update(map(str, listed))
    return reports


def _clearinghouse(leaves: list[Mapping[str, Any]], period: Period, out: RawFigures) -> None:
    received: dict[str, tuple[datetime, Any]] = {}
    for leaf in leaves:
        if leaf.get("action") in (REPORT_CREATE, REPORT_IMPORT):
            detail = _detail(leaf)
            if "updated_to_version" in detail:  # a new version of a stored report
                continue
            received.setdefault(str(leaf.get("object_id")), (_at(leaf), detail.get("found_by")))
    this_period = {rid: v for rid, v in received.items() if period.holds(v[0])}
    base = "clearinghouse"
    out.counts[f"{base}.reportsReceived"] = len(this_period)
    # Found by a model: a verified label only. A report's own found_by is its reporter's claim
    # (anyone can say a model found it in someone's review), counted apart as such.
    labelled = {str(leaf.get("object_id")) for leaf in leaves if leaf.get("action") == MODEL_LABEL}
    finder: dict[str, str] = {}
    for rid, (_, by) in this_period.items():
        if rid in labelled:
            finder[rid] = "model"
        elif by == "model":
            finder[rid] = "claimed"
        else:
            finder[rid] = by if by == "person" else "unrecorded"
    finders = {
        "model": f"{base}.foundByModel",
        "claimed": f"{base}.foundByModelClaimed",
        "person": f"{base}.foundByPerson",
        "unrecorded": f"{base}.finderUnrecorded",
    }
    for kind, cell in finders.items():
        out.counts[cell] = sum(1 for by in finder.values() if by == kind)
    out.relations.append(Relation(f"{base}.reportsReceived", tuple(finders.values())))
    out.ratios[f"{base}.aiFoundShare"] = (f"{base}.foundByModel", f"{base}.reportsReceived")

    merged_at: dict[str, datetime | None] = {}
    for leaf in leaves:
        if leaf.get("action") != DUPLICATE_DECIDE:
            continue
        detail = _detail(leaf)
        report = str(detail.get("report_id"))
        if detail.get("decision") == "merge":
            merged_at[report] = _at(leaf)
        elif detail.get("previous_status") == "merged":
            merged_at[report] = None  # reopened: the merge was undone
    out.counts[f"{base}.duplicatesMerged"] = sum(
        1 for at in merged_at.values() if at is not None and period.holds(at)
    )

    disclosed: dict[str, datetime] = {}
    for leaf in leaves:
        if leaf.get("action") == ADVISORY_PUBLISH:
            disclosed.setdefault(str(leaf.get("object_id")), _at(leaf))
    fixed: dict[str, datetime] = {}
    cases = _case_reports(leaves)
    for leaf in leaves:
        detail = _detail(leaf)
        if leaf.get("action") != VENDOR_STATUS or detail.get("status") != "fixed":
            continue
        named = detail.get("report_id")
        reports = {str(named)} if named else cases.get(str(leaf.get("object_id")), set())
        for report in reports:
            fixed.setdefault(report, _at(leaf))
    for name, stage in (("disclosed", disclosed), ("fixed", fixed)):
        moments = {rid: at for rid, at in stage.items() if period.holds(at)}
        out.counts[f"{base}.{name}"] = len(moments)
        out.samples[f"{base}.hoursReceivedTo{name.capitalize()}"] = [
            _hours(received[rid][0], at)
            for rid, at in sorted(moments.items())
            if rid in received and at >= received[rid][0]
        ]
    if any(by is None for _, by in this_period.values()):
        out.unrecorded[f"{base}.aiFoundShare"] = (
            "reports taken in before intake recorded who found them (found_by) are counted as "
            "finderUnrecorded, not as found by a person"
        )
    _funnel(leaves, this_period, cases, fixed, disclosed, out)


FUNNEL_LOGGED = (
    "received",
    "triaged",
    "reproduced",
    "notified",
    "acknowledged",
    "fixed",
    "disclosed",
)
"""The funnel's stages, each from its own log entry."""
_NOT_ACKNOWLEDGED = ("not_contacted", "no_response")


def _notified(leaf: Mapping[str, Any]) -> datetime:
    """When a delivery's vendor was told: its slot (in the detail), logged when pacing
    recorded it; the entry's own moment if the detail lacks it (never later than that)."""
    told = _instant(_detail(leaf).get("notified_at"))
    return told if told is not None and told <= _at(leaf) else _at(leaf)


def _funnel(
    leaves: list[Mapping[str, Any]],
    this_period: Mapping[str, tuple[datetime, Any]],
    cases: Mapping[str, set[str]],
    fixed: Mapping[str, datetime],
    disclosed: Mapping[str, datetime],
    out: RawFigures,
) -> None:
    """The disclosure funnel of the reports received in the period: how many reached each
    stage (by the report's as-of), and the hours between consecutive stages.

    *Reproduced* is the server's first verdict of status "reproduced" on a PoC of the report;
    *notified* the first delivery of the report to any vendor (pacing's slot, not a planned
    date). A stage reached is one whose entry is in the log by the as-of, so a closed
    period's funnel does not change when a delivery is recorded after it."""
    triaged: dict[str, datetime] = {}
    reproduced: dict[str, datetime] = {}
    notified: dict[str, datetime] = {}
    acknowledged: dict[str, datetime] = {}
    for leaf in leaves:
        action, detail = leaf.get("action"), _detail(leaf)
        report_id = str(leaf.get("object_id"))
        if action == TRIAGE_DECIDE:
            triaged.setdefault(report_id, _at(leaf))
        elif action == POC_VERDICT and detail.get("status") == "reproduced":
            reproduced.setdefault(report_id, _at(leaf))
        elif action == NOTIFICATION_DELIVER:
            told = _notified(leaf)
            if report_id not in notified or told < notified[report_id]:
                notified[report_id] = told
        elif action == VENDOR_STATUS and detail.get("status") not in _NOT_ACKNOWLEDGED:
            named = detail.get("report_id")
            reports = {str(named)} if named else cases.get(str(leaf.get("object_id")), set())
            for report in reports:
                acknowledged.setdefault(report, _at(leaf))
    moments: dict[str, Mapping[str, datetime]] = {
        "received": {rid: at for rid, (at, _) in this_period.items()},
        "triaged": triaged,
        "reproduced": reproduced,
        "notified": notified,
        "acknowledged": acknowledged,
        "fixed": fixed,
        "disclosed": disclosed,
    }
    base = "clearinghouse.funnel"
    for stage in FUNNEL_LOGGED:
        out.counts[f"{base}.{stage}"] = sum(1 for rid in this_period if rid in moments[stage])
    for earlier, later in pairwise(FUNNEL_LOGGED):
        out.samples[f"{base}.hours{earlier.capitalize()}To{later.capitalize()}"] = [
            _hours(moments[earlier][rid], moments[later][rid])
            for rid in sorted(this_period)
            if rid in moments[earlier]
            and rid in moments[later]
            and moments[later][rid] >= moments[earlier][rid]
        ]


def compute(leaves: Iterable[Mapping[str, Any]], period: Period, as_of: datetime) -> RawFigures:
    """The exact figures of ``period`` from the log's entries, read up to ``as_of``.

    Entries outside :data:`ACTIONS`, after ``as_of`` or at or after the period's end are
    ignored, so that the same entries give the same figures whatever else is passed.
    """
    cutoff = min(as_of, period.end)
    kept = sorted(
        (
            leaf
            for leaf in leaves
            if leaf.get("action") in ACTIONS and _at(leaf) <= cutoff and _at(leaf) < period.end
        ),
        key=lambda leaf: int(leaf["seq"]),
    )
    out = RawFigures()
    _review(kept, period, cutoff, out)
    _clearinghouse(kept, period, out)
    return out
