"""The clearinghouse analyst's console, reports side: the triage queue with its filters, a
report with its alias group and its likely duplicates side by side, the merge and
not-a-duplicate decisions, publishing, and the export links.

Each page asks the clearinghouse's published service, so its policy decides here as for the
API (TLP, need to know; duplicates and publishing are the clearinghouse's), and every read of
TLP:AMBER or stricter material is audited the same way. Merging and publishing do not happen
on one click: with JavaScript the button asks first (``hx-confirm``); without it, the button
opens a confirmation page (``GET`` on the action's own address) that says what will happen and
holds the real button. Cases are in :mod:`prereview.web.pages.clearinghouse_cases`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from prereview.authz.permissions import Permission
from prereview.authz.policy import Access, allowed, authorize
from prereview.authz.request import RequestContext
from prereview.clearinghouse import service as clearinghouse
from prereview.core.errors import InvalidInput
from prereview.core.markings import Tlp
from prereview.core.pagination import PageRequest
from prereview.identity import service as identity
from prereview.web.pages.clearinghouse_diff import side_by_side
from prereview.web.render import guarded, page
from prereview.web.session import PageContext, same_origin

router = APIRouter(prefix="/web/clearinghouse", include_in_schema=False)
Decision = Literal["merge", "reject"]

PER_PAGE = 50
AGES = {"": "any age", "1": "last day", "7": "last 7 days", "30": "last 30 days"}
STATES = {
    "open": "open (not merged or published)",
    "published": "published",
    "merged": "merged",
    "all": "all",
}
ORDERS = {"newest": "newest first", "severity": "most severe first"}
# "a model" is a verified model-found label; a report's own discovered_by is only a claim.
FOUND = {"": "anyone", "model": "a model (verified)", "person": "not verified as a model"}
# What each export is, in the words of its link (the advisory export pages serve them).
EXPORTS = {"csaf": "CSAF 2.0", "osv": "OSV", "cve": "CVE JSON 5", "stix": "STIX 2.1"}


class InvalidFilter(InvalidInput):
    slug = "clearinghouse-invalid-filter"
    title = "The queue's filter is not valid"


@dataclass(frozen=True)
class QueueQuery:
    """The queue's filters as the form sends them (every field a string; empty is "any")."""

    tlp: str = ""
    product: str = ""
    source: str = ""
    found: str = ""
    age: str = ""
    state: str = "open"
    order: str = "newest"
    offset: int = 0

    def where(self) -> clearinghouse.TriageFilter:
        """The service's filter, or an error that names the field a person mistyped."""
        try:
            tlp = Tlp(self.tlp) if self.tlp else None
        except ValueError:
            raise InvalidFilter(f"unknown TLP label '{self.tlp}'") from None
        for value, known, what in (
            (self.found, FOUND, "finder"),
            (self.age, AGES, "age"),
            (self.state, STATES, "state"),
            (self.order, ORDERS, "order"),
        ):
            if value not in known:
                raise InvalidFilter(f"unknown {what} '{value}': one of {', '.join(known)}")
        return clearinghouse.TriageFilter(
            tlp=tlp,
            product=self.product.strip() or None,
            source=self.source or None,
            model_found=None if not self.found else self.found == "model",
            max_age_days=int(self.age) if self.age else None,
            state=self.state,  # type: ignore[arg-type]  # checked against STATES above
            order=self.order,  # type: ignore[arg-type]  # checked against ORDERS above
        )

    def link(self, offset: int) -> str:
        """This query at another offset (the pager's links keep the filters)."""
        fields = {
            "tlp": self.tlp,
            "product": self.product,
            "source": self.source,
            "found": self.found,
            "age": self.age,
            "state": self.state,
            "order": self.order,
        }
        kept = {k: v for k, v in fields.items() if v} | {"offset": str(offset)}
        return f"/web/clearinghouse/reports?{urlencode(kept)}"


def found_by(document: dict[str, Any]) -> str:
    """Who the report says found it, in a few words: a claim, shown as one (the verified
    model-found label is the report's ``model_label``, not this)."""
    by = document.get("discovered_by") or {}
    if by.get("kind") == "model":
        return f"model {by.get('model', '')} (claimed)"
    if by.get("kind") == "person":
        return str(by.get("name", "a person"))
    return ""


def severity(row: Any) -> float | None:
    """The score the queue sorts by: CVSS 4.0 where given, else 3.1 (as the service does)."""
    score = row.cvss_v4_score if row.cvss_v4_score is not None else row.cvss_v3_score
    return None if score is None else float(score)


def queue_page(request: Request, ctx: RequestContext, query: QueueQuery) -> Response:
    """The triage queue: also the clearinghouse's home page."""
    db, actor, now = ctx.db, ctx.actor, ctx.now
    where = query.where()
    found = clearinghouse.triage_queue(db, actor, PageRequest(PER_PAGE, query.offset), now, where)
    sources = clearinghouse.report_sources(db, actor, now)
    names = identity.organisation_names(db, list(sources) + [r.reporter_org_id for r in found.rows])
    analyst = allowed(actor, Permission.CH_DUPLICATE_LIST)
    duplicates = (
        clearinghouse.open_duplicate_counts(db, actor, [r.id for r in found.rows], now)
        if analyst
        else {}
    )
    return page(
        request,
        "clearinghouse/queue.html",
        rows=found.rows,
        total=found.total,
        query=query,
        previous=query.link(max(0, query.offset - PER_PAGE)) if query.offset else None,
        next=query.link(query.offset + PER_PAGE) if query.offset + PER_PAGE < found.total else None,
        per_page=PER_PAGE,
        names=names,
        sources=sources,
        duplicates=duplicates,
        analyst=analyst,
        tlps=[t.value for t in Tlp],
        ages=AGES,
        states=STATES,
        orders=ORDERS,
        finders=FOUND,
        found_by=found_by,
        severity=severity,
    )


@router.get("/reports", response_model=None)
def queue(
    request: Request,
    ctx: PageContext,
    tlp: Annotated[str, Query(max_length=20)] = "",
    product: Annotated[str, Query(max_length=300)] = "",
    source: Annotated[str, Query(max_length=40)] = "",
    found: Annotated[str, Query(max_length=10)] = "",
    age: Annotated[str, Query(max_length=4)] = "",
    state: Annotated[str, Query(max_length=10)] = "open",
    order: Annotated[str, Query(max_length=10)] = "newest",
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """The reports the signed-in organisation may see, filtered; duplicates counted for the
    clearinghouse's analysts."""
    query = QueueQuery(tlp, product, source, found, age, state, order, offset)
    return guarded(request, lambda: queue_page(request, ctx, query))


def _other(proposal: Any, report_id: str) -> str:
    return str(proposal.candidate_id if proposal.report_id == report_id else proposal.report_id)


@router.get("/reports/{report_id}", response_model=None)
def report_page(request: Request, report_id: str, ctx: PageContext) -> Response:
    """A report: its fields, its alias group, and (for analysts) its likely duplicates side by
    side with the decisions; its case, publishing and exports."""
    db, actor, now = ctx.db, ctx.actor, ctx.now

    def build() -> Response:
        row = clearinghouse.get_report(db, actor, report_id, now)
        relations = clearinghouse.report_relations(db, actor, report_id, now)
        pairs: list[dict[str, Any]] = []
        others: list[str] = []
        if allowed(actor, Permission.CH_DUPLICATE_LIST):
            for proposal in clearinghouse.report_duplicates(db, actor, report_id, now):
                other = clearinghouse.get_report(db, actor, _other(proposal, report_id), now)
                others.append(other.reporter_org_id)
                pairs.append(
                    {
                        "proposal": proposal,
                        "other": other,
                        "diff": side_by_side(
                            row.document.get("description", ""),
                            other.document.get("description", ""),
                        ),
                        "shared_products": sorted(set(row.package_keys) & set(other.package_keys)),
                        "shared_cwes": sorted(set(row.cwes) & set(other.cwes)),
                    }
                )
        names = identity.organisation_names(db, [row.reporter_org_id, *others])
        return page(
            request,
            "clearinghouse/report.html",
            reproduction=clearinghouse.reproduction_view(db, actor, report_id, now),
            reproduction_labels=clearinghouse.REPRODUCTION_LABELS,
            report=row,
            document=row.document,
            relations=relations,
            pairs=pairs,
            names=names,
            found_by=found_by,
            exports=EXPORTS,
            cve_id=next(
                (n for n in [row.id, *row.document.get("aliases", [])] if n.startswith("CVE-")),
                None,
            ),
            tlps=[t.value for t in Tlp],
            can_publish=may_publish(ctx, row),
            analyst=actor_is_analyst(ctx),
            can_open_case=actor_is_analyst(ctx) and row.case_id is None,
            words=WORDS,
        )

    return guarded(request, build)


def actor_is_analyst(ctx: RequestContext) -> bool:
    """Whether to offer the analyst's forms (the use cases still decide when they are sent)."""
    return allowed(ctx.actor, Permission.CH_CASE_CREATE)


def may_publish(ctx: RequestContext, row: Any) -> bool:
    """Whether the policy lets the actor publish this report with its label as it is."""
    return allowed(ctx.actor, Permission.CH_ADVISORY_PUBLISH, Access(tlp=Tlp(row.tlp)))


# What each decision does, in the words of its confirmation (page and dialog).
WORDS = {
    "merge": (
        "Merge this report into the older one? It leaves the triage queue and points at the "
        "report it duplicates; its own id, aliases and evidence are kept. An analyst can undo "
        "it (prereview vuln duplicates reopen)."
    ),
    "reject": (
        "Mark these as two different vulnerabilities? The proposal is closed as not a "
        "duplicate; both reports stay in the queue. An analyst can reopen it."
    ),
    "publish": (
        "Publish this report as an advisory? It gets a publication date now and becomes "
        "exportable as CSAF, OSV, CVE 5 and STIX, and partners running an affected product are "
        "told once it is public. While its case's embargo lasts, only its reporter, the "
        "clearinghouse and the case's vendors can fetch it; after that, everyone its TLP label "
        "allows. It cannot be unpublished."
    ),
}
# The two decisions' addresses: the API's decision names, as the page's words say them.
DECISIONS: dict[str, Decision] = {"merge": "merge", "not-duplicate": "reject"}


def _proposal(ctx: RequestContext, duplicate_id: str) -> Any:
    return clearinghouse.get_duplicate(ctx.db, ctx.actor, duplicate_id, ctx.now)


def _confirm_decision(
    request: Request, duplicate_id: str, decision: Decision, ctx: RequestContext
) -> Response:
    """The confirmation page of a merge or a not-a-duplicate, for a browser without
    JavaScript: which report goes into which, what happens, and the real button."""

    def build() -> Response:
        proposal = _proposal(ctx, duplicate_id)
        newer = clearinghouse.get_report(ctx.db, ctx.actor, proposal.report_id, ctx.now)
        older = clearinghouse.get_report(ctx.db, ctx.actor, proposal.candidate_id, ctx.now)
        return page(
            request,
            "clearinghouse/confirm_decision.html",
            proposal=proposal,
            decision=decision,
            action=next(path for path, d in DECISIONS.items() if d == decision),
            newer=newer,
            older=older,
            consequence=WORDS[decision],
        )

    return guarded(request, build)


def _decide(
    request: Request, duplicate_id: str, decision: Decision, ctx: RequestContext
) -> Response:
    same_origin(request)

    def build() -> Response:
        proposal = _proposal(ctx, duplicate_id)
        back = str(proposal.report_id)
        clearinghouse.decide_duplicate(
            ctx.db, ctx.actor, duplicate_id, decision, "decided in the console", ctx.now
        )
        return back_to(f"/web/clearinghouse/reports/{back}", request)

    return guarded(request, build)


@router.get("/duplicates/{duplicate_id}/merge", response_model=None)
def confirm_merge(request: Request, duplicate_id: str, ctx: PageContext) -> Response:
    return _confirm_decision(request, duplicate_id, "merge", ctx)


@router.post("/duplicates/{duplicate_id}/merge", response_model=None)
def merge(request: Request, duplicate_id: str, ctx: PageContext) -> Response:
    return _decide(request, duplicate_id, "merge", ctx)


@router.get("/duplicates/{duplicate_id}/not-duplicate", response_model=None)
def confirm_not_duplicate(request: Request, duplicate_id: str, ctx: PageContext) -> Response:
    return _confirm_decision(request, duplicate_id, "reject", ctx)


@router.post("/duplicates/{duplicate_id}/not-duplicate", response_model=None)
def not_duplicate(request: Request, duplicate_id: str, ctx: PageContext) -> Response:
    return _decide(request, duplicate_id, "reject", ctx)


@router.get("/reports/{report_id}/publish", response_model=None)
def confirm_publish(request: Request, report_id: str, ctx: PageContext) -> Response:
    """What publishing will do to this report (its label, its case's embargo), and the button."""

    def build() -> Response:
        row = clearinghouse.get_report(ctx.db, ctx.actor, report_id, ctx.now)
        # The policy's refusal, as the action would give it: publishing is the clearinghouse's.
        authorize(ctx.actor, Permission.CH_ADVISORY_PUBLISH, Access(tlp=Tlp(row.tlp)))
        case = (
            clearinghouse.get_case(ctx.db, ctx.actor, row.case_id, ctx.now) if row.case_id else None
        )
        return page(
            request,
            "clearinghouse/confirm_publish.html",
            report=row,
            case=case,
            consequence=WORDS["publish"],
            public=case is None or case.embargo_until <= ctx.now,
        )

    return guarded(request, build)


@router.post("/reports/{report_id}/publish", response_model=None)
def publish(request: Request, report_id: str, ctx: PageContext) -> Response:
    same_origin(request)

    def build() -> Response:
        clearinghouse.publish_report(ctx.db, ctx.actor, report_id, ctx.now)
        return back_to(f"/web/clearinghouse/reports/{report_id}", request)

    return guarded(request, build)


def back_to(target: str, request: Request) -> Response:
    """After a form, the page it belongs to. A request from htmx (``hx-post``) is told to
    load it (``HX-Redirect``): a redirect would be followed inside the request and the whole
    page swapped into the form."""
    if request.headers.get("hx-request") == "true":
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)
