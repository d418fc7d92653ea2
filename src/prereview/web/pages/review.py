"""Review's pages: your work on the home page, a submission with its findings, nominations and
grants, the window's countdown, and the forms that release, withdraw, decide and file.

Each page asks review's published service, so the policy decides for pages as for the API.
Release and withdraw cannot be undone, so neither happens on one click: with JavaScript the
button asks first (htmx's ``hx-confirm``); without it, the button opens a confirmation page
(``GET`` on the action's own address) that says what will happen and holds the real button.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from prereview.authz.kinds import OrgKind
from prereview.authz.permissions import Permission
from prereview.authz.request import RequestContext
from prereview.core.errors import NotFound
from prereview.core.pagination import PageRequest
from prereview.identity import service as identity
from prereview.review import service as review
from prereview.review.kinds import FindingCategory, Severity
from prereview.review.schemas import FindingCreate
from prereview.review.window import Window
from prereview.web.pages import clearinghouse as clearinghouse_pages
from prereview.web.render import NOT_BLANK, guarded, page
from prereview.web.session import PageContext, same_origin

router = APIRouter(prefix="/web", include_in_schema=False)


def _rules(ctx: RequestContext) -> review.Rules:
    return review.Rules.from_settings(ctx.settings)


@router.get("/", response_model=None)
def home(request: Request, ctx: PageContext) -> Response:
    db, actor, now, rules = ctx.db, ctx.actor, ctx.now, _rules(ctx)

    def build() -> Response:
        if actor.org_kind is OrgKind.DEVELOPER:
            return page(request, "review/developer.html", rows=_submission_rows(ctx))
        if actor.org_kind in (OrgKind.AGENCY, OrgKind.TRUSTED_PARTNER):
            queue = review.queue(db, actor, now, rules)
            return page(request, "review/queue.html", queue=queue)
        if actor.org_kind is OrgKind.CLEARINGHOUSE:
            # The analyst's work starts at the triage queue of incoming reports.
            return clearinghouse_pages.queue_page(request, ctx, clearinghouse_pages.QueueQuery())
        return page(request, "review/other.html")

    return guarded(request, build)


def _submission_rows(ctx: RequestContext) -> list[tuple[Any, Window]]:
    """The developer's submissions with their windows now, as its home page lists them (each
    a review submission row: review's models are its own, so not named here)."""
    rules = _rules(ctx)
    found = review.list_submissions(ctx.db, ctx.actor, PageRequest(limit=200), ctx.now, rules)
    return [(s, review.window(s, ctx.now, rules)) for s in found.rows]


@router.get("/submissions", response_model=None)
def submissions_fragment(request: Request, ctx: PageContext) -> Response:
    """The developer's submission rows, refreshed by htmx every minute (windows close)."""

    def build() -> Response:
        return page(request, "review/_submissions.html", rows=_submission_rows(ctx))

    return guarded(request, build)


@router.get("/submissions/{submission_id}", response_model=None)
def submission_page(request: Request, submission_id: str, ctx: PageContext) -> Response:
    db, actor, now, rules = ctx.db, ctx.actor, ctx.now, _rules(ctx)

    def build() -> Response:
        submission = review.get_submission(db, actor, submission_id, now, rules)
        owner = submission.developer_org_id == actor.organisation_id
        findings = review.list_findings(
            db, actor, submission_id, PageRequest(limit=200), now, rules
        )
        nominations = review.list_nominations(db, actor, submission_id, now, rules) if owner else []
        _, grants = review.list_grants(db, actor, submission_id, now, rules)
        names = identity.organisation_names(
            db,
            [g.agency_org_id for g in grants]
            + [n.partner_org_id for n in nominations]
            + [f.author_org_id for f in findings.rows],
        )
        return page(
            request,
            "review/submission.html",
            names=names,
            submission=submission,
            submission_id=submission.id,
            window=review.window(submission, now, rules),
            owner=owner,
            findings=findings.rows,
            nominations=nominations,
            grants=[(g, review.grant_is_live(g, submission, now, rules)) for g in grants],
            endings={action: words for action, (_, words) in ENDINGS.items()},
            severities=list(Severity),
            categories=list(FindingCategory),
        )

    return guarded(request, build)


@router.get("/submissions/{submission_id}/window", response_model=None)
def window_fragment(request: Request, submission_id: str, ctx: PageContext) -> Response:
    """The countdown, refreshed by htmx every minute."""

    def build() -> Response:
        window: Window = review.get_window(ctx.db, ctx.actor, submission_id, ctx.now, _rules(ctx))
        return page(request, "review/_window.html", window=window, submission_id=submission_id)

    return guarded(request, build)


@router.get("/queue", response_model=None)
def queue_fragment(request: Request, ctx: PageContext) -> Response:
    """The reviewer's queue rows, refreshed by htmx every minute (windows close, access ends)."""

    def build() -> Response:
        queue = review.queue(ctx.db, ctx.actor, ctx.now, _rules(ctx))
        return page(request, "review/_queue.html", queue=queue)

    return guarded(request, build)


# What each irreversible action does, in the words of its confirmation (page and dialog).
ENDINGS = {
    "release": (
        Permission.SUBMISSION_RELEASE,
        "Declare this model publicly released? The review window closes now and every grant "
        "ends: no agency or partner can reach the model or its materials any more. "
        "This cannot be undone.",
    ),
    "withdraw": (
        Permission.SUBMISSION_WITHDRAW,
        "Withdraw this submission? The review window closes now, every grant ends, and every "
        "material and secret of the submission is crypto-shredded: its key is destroyed, so "
        "nobody, you included, can ever read them again. This cannot be undone.",
    ),
}


@router.get("/submissions/{submission_id}/release", response_model=None)
def confirm_release(request: Request, submission_id: str, ctx: PageContext) -> Response:
    return _confirm(request, submission_id, "release", ctx)


@router.get("/submissions/{submission_id}/withdraw", response_model=None)
def confirm_withdraw(request: Request, submission_id: str, ctx: PageContext) -> Response:
    return _confirm(request, submission_id, "withdraw", ctx)


def _confirm(request: Request, submission_id: str, action: str, ctx: RequestContext) -> Response:
    """The confirmation page of release or withdraw, for a browser without JavaScript: what
    will happen, who loses access, and the button that really does it."""
    permission, consequence = ENDINGS[action]

    def build() -> Response:
        db, actor, now, rules = ctx.db, ctx.actor, ctx.now, _rules(ctx)
        # The same reach as the action itself: outsiders get the 404, reviewers the 403.
        submission = review.owned_submission(db, actor, submission_id, permission)
        _, grants = review.list_grants(db, actor, submission_id, now, rules)
        live = [g for g in grants if review.grant_is_live(g, submission, now, rules)]
        names = identity.organisation_names(db, [g.agency_org_id for g in live])
        return page(
            request,
            "review/confirm.html",
            submission=submission,
            action=action,
            consequence=consequence,
            losing=[names.get(g.agency_org_id, g.agency_org_id) for g in live],
            done=submission.released_at is not None or submission.withdrawn_at is not None,
        )

    return guarded(request, build)


@router.post("/submissions/{submission_id}/release", response_model=None)
def release(request: Request, submission_id: str, ctx: PageContext) -> Response:
    same_origin(request)

    def build() -> Response:
        review.release(ctx.db, ctx.actor, submission_id, ctx.now)
        return _back_to(submission_id, request)

    return guarded(request, build)


@router.post("/submissions/{submission_id}/withdraw", response_model=None)
def withdraw(
    request: Request,
    submission_id: str,
    ctx: PageContext,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    same_origin(request)

    def build() -> Response:
        review.withdraw(ctx.db, ctx.actor, submission_id, reason.strip(), ctx.now)
        return _back_to(submission_id, request)

    return guarded(request, build)


@router.post(
    "/submissions/{submission_id}/nominations/{nomination_id}/{decision}", response_model=None
)
def decide(
    request: Request, submission_id: str, nomination_id: str, decision: str, ctx: PageContext
) -> Response:
    same_origin(request)

    def build() -> Response:
        if decision not in ("consent", "decline"):
            # No such form: not a 303 as though something had been decided.
            raise NotFound(f"no decision '{decision}': consent or decline")
        review.decide_nomination(
            ctx.db, ctx.actor, submission_id, nomination_id, decision == "consent", "", ctx.now
        )
        return _back_to(submission_id)

    return guarded(request, build)


@router.post("/submissions/{submission_id}/findings", response_model=None)
def file_finding(
    request: Request,
    submission_id: str,
    ctx: PageContext,
    # Not only white space (the finding strips it, and an empty title would fail there, a 500).
    title: Annotated[str, Form(min_length=1, max_length=300, pattern=NOT_BLANK)],
    description: Annotated[str, Form(min_length=1, max_length=50_000, pattern=NOT_BLANK)],
    severity: Annotated[Severity, Form()],
    category: Annotated[FindingCategory, Form()],
    recommended_mitigation: Annotated[str, Form(max_length=50_000)] = "",
) -> Response:
    same_origin(request)

    def build() -> Response:
        data = FindingCreate(
            title=title,
            description=description,
            severity=severity,
            category=category,
            recommended_mitigation=recommended_mitigation,
        )
        review.file_finding(ctx.db, ctx.actor, submission_id, data, ctx.now, _rules(ctx))
        return _back_to(submission_id)

    return guarded(request, build)


def _back_to(submission_id: str, request: Request | None = None) -> Response:
    """After a form, the submission page. A request from htmx (``hx-post``) is told to load it
    (``HX-Redirect``): a redirect would be followed inside the request and the whole page
    swapped into the form."""
    target = f"/web/submissions/{submission_id}"
    if request is not None and request.headers.get("hx-request") == "true":
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)
