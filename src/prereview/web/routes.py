"""Web pages: the review workflow for people, on the same services and policy as the API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from prereview.authz.kinds import OrgKind
from prereview.authz.request import DB
from prereview.core.context import get_context
from prereview.core.errors import PrereviewError
from prereview.core.pagination import PageRequest
from prereview.identity import service as identity
from prereview.identity import sessions
from prereview.review import service as review
from prereview.review.kinds import FindingCategory, Severity
from prereview.review.schemas import FindingCreate
from prereview.review.window import Window
from prereview.web.session import COOKIE, LoginRequired, PageActor, same_origin, session_limits

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(prefix="/web", include_in_schema=False)


def countdown(seconds: int | None) -> str:
    if seconds is None:
        return ""
    left = timedelta(seconds=seconds)
    hours, rest = divmod(left.seconds, 3600)
    return f"{left.days}d {hours}h {rest // 60}m"


templates.env.filters["countdown"] = countdown


def _page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status)


NOT_BLANK = r"\S"  # a form field that holds something other than white space


def _guarded(request: Request, build: Callable[[], Response]) -> Response:
    """Render a page, or the error a person can act on (the same words as the API's)."""
    try:
        return build()
    except LoginRequired:
        raise
    except PrereviewError as error:
        return _page(request, "error.html", error.status, error=error)


def _clock(request: Request) -> tuple[Any, review.Rules]:
    context = get_context(request)
    return context.clock.now(), review.Rules.from_settings(context.settings)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return _page(request, "identity/login.html")


@router.post("/login", response_model=None)
def login(request: Request, db: DB, token: Annotated[str, Form(max_length=200)]) -> Response:
    """Check the API token and open a web session; the cookie holds the session, not the token."""
    same_origin(request)
    now = get_context(request).clock.now()
    try:
        opened = sessions.open_session(db, token.strip(), now, session_limits(request))
    except PrereviewError as error:
        return _page(request, "identity/login.html", 401, error=error)
    response = RedirectResponse("/web/", status_code=303)
    response.set_cookie(
        COOKIE,
        opened.secret,
        # The browser forgets it when the session ends on the server at the latest.
        max_age=max(1, int((opened.session.expires_at - now).total_seconds())),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/web",
    )
    return response


@router.post("/logout")
def logout(request: Request, db: DB) -> RedirectResponse:
    """Sign out: the session is revoked on the server, so a copied cookie is useless too."""
    same_origin(request)
    sessions.close_session(db, request.cookies.get(COOKIE), get_context(request).clock.now())
    response = RedirectResponse("/web/login", status_code=303)
    response.delete_cookie(
        COOKIE,
        path="/web",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/", response_model=None)
def home(request: Request, db: DB, actor: PageActor) -> Response:
    now, rules = _clock(request)

    def build() -> Response:
        me = identity.get_user(db, actor.user_id)
        if actor.org_kind is OrgKind.DEVELOPER:
            found = review.list_submissions(db, actor, PageRequest(limit=200), now, rules)
            rows = [(s, review.window(s, now, rules)) for s in found.rows]
            return _page(request, "review/developer.html", me=me, rows=rows)
        if actor.org_kind in (OrgKind.AGENCY, OrgKind.TRUSTED_PARTNER):
            queue = review.queue(db, actor, now, rules)
            return _page(request, "review/queue.html", me=me, queue=queue)
        return _page(request, "review/other.html", me=me)

    return _guarded(request, build)


@router.get("/submissions/{submission_id}", response_model=None)
def submission_page(request: Request, submission_id: str, db: DB, actor: PageActor) -> Response:
    now, rules = _clock(request)

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
        return _page(
            request,
            "review/submission.html",
            me=identity.get_user(db, actor.user_id),
            names=names,
            submission=submission,
            window=review.window(submission, now, rules),
            owner=owner,
            findings=findings.rows,
            nominations=nominations,
            grants=[(g, review.grant_is_live(g, submission, now, rules)) for g in grants],
            severities=list(Severity),
            categories=list(FindingCategory),
        )

    return _guarded(request, build)


@router.get("/submissions/{submission_id}/window", response_model=None)
def window_fragment(request: Request, submission_id: str, db: DB, actor: PageActor) -> Response:
    """The countdown, refreshed by htmx every minute."""
    now, rules = _clock(request)

    def build() -> Response:
        window: Window = review.get_window(db, actor, submission_id, now, rules)
        return _page(request, "review/_window.html", window=window, submission_id=submission_id)

    return _guarded(request, build)


@router.post("/submissions/{submission_id}/release", response_model=None)
def release(request: Request, submission_id: str, db: DB, actor: PageActor) -> Response:
    same_origin(request)
    now, _ = _clock(request)

    def build() -> Response:
        review.release(db, actor, submission_id, now)
        return _back_to(submission_id)

    return _guarded(request, build)


@router.post(
    "/submissions/{submission_id}/nominations/{nomination_id}/{decision}", response_model=None
)
def decide(
    request: Request,
    submission_id: str,
    nomination_id: str,
    decision: str,
    db: DB,
    actor: PageActor,
) -> Response:
    same_origin(request)
    now, _ = _clock(request)

    def build() -> Response:
        if decision in ("consent", "decline"):
            consent = decision == "consent"
            review.decide_nomination(db, actor, submission_id, nomination_id, consent, "", now)
        return _back_to(submission_id)

    return _guarded(request, build)


@router.post("/submissions/{submission_id}/findings", response_model=None)
def file_finding(
    request: Request,
    submission_id: str,
    db: DB,
    actor: PageActor,
    # Not only white space (the finding strips it, and an empty title would fail there, a 500).
    title: Annotated[str, Form(min_length=1, max_length=300, pattern=NOT_BLANK)],
    description: Annotated[str, Form(min_length=1, max_length=50_000, pattern=NOT_BLANK)],
    severity: Annotated[Severity, Form()],
    category: Annotated[FindingCategory, Form()],
    recommended_mitigation: Annotated[str, Form(max_length=50_000)] = "",
) -> Response:
    same_origin(request)
    now, rules = _clock(request)

    def build() -> Response:
        data = FindingCreate(
            title=title,
            description=description,
            severity=severity,
            category=category,
            recommended_mitigation=recommended_mitigation,
        )
        review.file_finding(db, actor, submission_id, data, now, rules)
        return _back_to(submission_id)

    return _guarded(request, build)


def _back_to(submission_id: str) -> RedirectResponse:
    return RedirectResponse(f"/web/submissions/{submission_id}", status_code=303)


def _to_login(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith("/web"):
        return RedirectResponse("/web/login", status_code=303)
    assert isinstance(exc, LoginRequired)
    from prereview.core.problems import problem_response

    return problem_response(exc.problem(instance=request.url.path))


def install(app: FastAPI) -> None:
    """Mount the pages and their static files on ``app``."""
    app.include_router(router)
    app.mount("/web/static", StaticFiles(directory=HERE / "static"), name="web-static")
    app.add_exception_handler(LoginRequired, _to_login)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/web/", status_code=307)
