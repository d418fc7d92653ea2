"""Coverage's pages: the determination form (a preset or an uploaded policy, the rationale),
the what-if that must come first, the determination itself, and the developer's notices.

Each page asks coverage's published service, so the policy decides for pages as for the API:
an agency that holds or held a grant reads its determinations and makes one; the developer
reads only the notices (that one was made, and its outcome where the policy discloses it),
and may run a what-if on every agency's evidence, as the API lets it.

A determination is recorded for good and its developer is notified, so it is never one click:
the form only runs a what-if (which records nothing, not even in the audit log), and the
what-if's page is the confirmation. It shows the outcome and each criterion with its evidence,
says what recording does, and holds the one button that records (with JavaScript it asks
first too, ``hx-confirm``). An uploaded policy travels on in that form base64-encoded, so the
text recorded, and its SHA-256, are byte for byte those of the file (a browser rewrites line
ends in text fields); and the form carries a digest of what the what-if showed, so that if the
evidence changed meanwhile the new outcome is shown again instead of recorded unseen.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from prereview.authz.kinds import OrgKind
from prereview.authz.request import RequestContext
from prereview.core.errors import Conflict, InvalidEncoding, InvalidInput, PrereviewError
from prereview.core.markings import TLP, Marking
from prereview.coverage import service as coverage
from prereview.coverage.errors import PolicyMissing
from prereview.coverage.policy import MAX_POLICY_CHARS
from prereview.coverage.schemas import DeterminationCreate, PolicyChoice
from prereview.identity import service as identity
from prereview.review import service as review
from prereview.web.render import guarded, page
from prereview.web.session import PageContext, same_origin

router = APIRouter(prefix="/web", include_in_schema=False)

#: A policy is at most this many characters; UTF-8 takes at most four bytes for each.
MAX_POLICY_BYTES = MAX_POLICY_CHARS * 4

# What a person does next about each problem the form can meet (by problem slug).
NEXT_STEPS = {
    "coverage-policy-invalid": "Correct each problem listed (its path names the TOML key), then "
    "run the what-if again. The presets are valid policies to start from: "
    "`prereview coverage presets --json` prints their text.",
    "coverage-preset-unknown": "Choose one of the presets offered in the form.",
    "coverage-policy-missing": "Choose a preset, or choose \u201cUpload a policy file\u201d and "
    "pick a TOML file, then run the what-if.",
    "invalid-encoding": "Save the policy file as UTF-8 text and upload it again.",
    "nul-in-text": "Remove the NUL characters from the text and send it again.",
    "coverage-evidence-changed": "Read the new outcome below; record it if it is still your "
    "determination.",
}
CHANGED = "coverage-evidence-changed"


class EvidenceChanged(Conflict):
    """The what-if a person confirmed is no longer what the policy decides."""

    slug = CHANGED
    title = "The evidence changed since your what-if"


@dataclass(frozen=True)
class Problem:
    """An error as the form shows it: the problem's own words and what to do next."""

    title: str
    detail: str
    type_uri: str
    status: int
    errors: list[dict[str, Any]] = field(default_factory=list)
    next_step: str = ""

    @classmethod
    def of(cls, error: PrereviewError) -> Problem:
        listed = error.extra.get("errors")
        return cls(
            error.title,
            error.detail,
            error.type_uri,
            error.status,
            list(listed) if isinstance(listed, list) else [],
            NEXT_STEPS.get(error.slug, ""),
        )


@dataclass(frozen=True)
class Filled:
    """What the person wrote in the form, given back to it (after a what-if or an error)."""

    source: str = "preset"
    preset: str = ""
    policy_b64: str = ""
    rationale: str = ""
    tlp: str = TLP.AMBER_STRICT.value
    markings: tuple[str, ...] = ()


def _rules(ctx: RequestContext) -> review.Rules:
    return review.Rules.from_settings(ctx.settings)


def _invalid(exc: ValidationError) -> InvalidInput:
    problems = [
        {
            "path": ".".join(str(p) for p in e["loc"]),
            "location": [str(p) for p in e["loc"]],
            "message": str(e["msg"]),
        }
        for e in exc.errors()
    ]
    first = problems[0] if problems else {"path": "", "message": "invalid form"}
    where = f"{first['path']}: " if first["path"] else ""
    return InvalidInput(f"{where}{first['message']}", errors=problems)


def whatif_digest(policy_sha256: str, judgement: coverage.Judgement) -> str:
    """SHA-256 of what a what-if showed: the policy's hash, the outcome and every criterion
    with its evidence (numbers included)."""
    shown = {
        "policy_sha256": policy_sha256,
        "outcome": judgement.outcome.value,
        "criteria": judgement.criteria.as_dict(),
    }
    text = json.dumps(shown, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _decoded(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidEncoding("the policy file is not UTF-8 text") from None


def _uploaded(policy_file: UploadFile | None) -> bytes:
    """The uploaded file's bytes (none if no file was chosen), refused over the limit."""
    if policy_file is None:
        return b""
    data = policy_file.file.read(MAX_POLICY_BYTES + 1)
    if len(data) > MAX_POLICY_BYTES:
        raise InvalidInput(f"a policy is at most {MAX_POLICY_CHARS} characters")
    return data


def _choice(filled: Filled) -> PolicyChoice:
    """The policy the form names, validated as the API validates it."""
    if filled.source == "file":
        if not filled.policy_b64:
            raise PolicyMissing("no policy file was chosen")
        try:
            raw = base64.b64decode(filled.policy_b64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("the policy travelled damaged; upload the file again") from None
        text: str | None = _decoded(raw)
        preset = None
    elif filled.source == "preset":
        if not filled.preset:
            raise PolicyMissing("no preset was chosen")
        text, preset = None, filled.preset
    else:
        raise InvalidInput(f"no policy source '{filled.source}': a preset or a file")
    try:
        return PolicyChoice(policy=text, preset=preset)
    except ValidationError as exc:
        raise _invalid(exc) from None


def _determination(filled: Filled, choice: PolicyChoice) -> DeterminationCreate:
    try:
        return DeterminationCreate(
            policy=choice.policy,
            preset=choice.preset,
            rationale=filled.rationale,
            # Validated here, as the API validates them: a label that is none is a 422.
            tlp=filled.tlp,
            markings=list(filled.markings),
        )
    except ValidationError as exc:
        raise _invalid(exc) from None


def coverage_page(
    request: Request,
    ctx: RequestContext,
    submission_id: str,
    *,
    filled: Filled | None = None,
    problem: Problem | None = None,
) -> Response:
    """The developer's notices, or the agency's determinations with the form; an error the
    form met is shown above it, with the form filled as it was sent."""
    db, actor, now, rules = ctx.db, ctx.actor, ctx.now, _rules(ctx)
    # Hidden from outsiders here; coverage authorizes (and audits) the read itself. An agency
    # whose access ended still reads its own determinations, so the submission is only
    # looked up for its name, as for the read it knows of, not read as a submission.
    submission, access = review.visible_submission(db, actor, submission_id, now, rules)
    owner = access.owner
    if owner:
        found = coverage.notices(db, actor, submission_id, now, rules)
    else:
        found = coverage.list_determinations(db, actor, submission_id, now, rules)
    names = identity.organisation_names(db, [d.agency_org_id for d in found])
    return page(
        request,
        "coverage/coverage.html",
        status=problem.status if problem else 200,
        submission=submission,
        owner=owner,
        may_decide=not owner,
        determinations=found,
        names=names,
        presets=coverage.presets(actor),
        filled=filled or Filled(),
        problem=problem,
        tlps=list(TLP),
        markings=list(Marking),
        me_user=actor.user_id,
    )


@router.get("/submissions/{submission_id}/coverage", response_model=None)
def coverage_view(request: Request, submission_id: str, ctx: PageContext) -> Response:
    return guarded(request, lambda: coverage_page(request, ctx, submission_id))


def _whatif_page(
    request: Request,
    ctx: RequestContext,
    submission_id: str,
    filled: Filled,
    problem: Problem | None = None,
) -> Response:
    """What the form's policy decides now, and for an agency the form that records it."""
    db, actor, now, rules = ctx.db, ctx.actor, ctx.now, _rules(ctx)
    choice = _choice(filled)
    _, judgement = coverage.what_if(db, actor, submission_id, choice, now, rules)
    # Coverage authorized the what-if; the submission is looked up for its names only.
    submission, _ = review.visible_submission(db, actor, submission_id, now, rules)
    sha = judgement.policy.sha256
    developer = identity.organisation_names(db, [submission.developer_org_id])
    return page(
        request,
        "coverage/whatif.html",
        status=problem.status if problem else 200,
        submission=submission,
        judgement=judgement,
        document=judgement.policy.document,
        sha256=sha,
        digest=whatif_digest(sha, judgement),
        filled=filled,
        problem=problem,
        developer=developer.get(submission.developer_org_id, "the developer"),
        may_record=actor.org_kind is OrgKind.AGENCY,
        tlps=list(TLP),
        markings=list(Marking),
    )


def _in_form(
    request: Request, ctx: RequestContext, submission_id: str, filled: Filled, build: Any
) -> Response:
    """Run ``build``; a problem with what was sent shows the form again, filled, with it."""
    try:
        response: Response = build()
        return response
    except InvalidInput as error:
        ctx.db.rollback()
        return coverage_page(request, ctx, submission_id, filled=filled, problem=Problem.of(error))


Rationale = Annotated[str, Form(max_length=20_000)]
Markings = Annotated[list[str], Form(max_length=8)]


@router.post("/submissions/{submission_id}/coverage/what-if", response_model=None)
def what_if(
    request: Request,
    submission_id: str,
    ctx: PageContext,
    source: Annotated[str, Form(max_length=10)] = "preset",
    preset: Annotated[str, Form(max_length=120)] = "",
    policy_file: Annotated[UploadFile | None, File()] = None,
    policy_b64: Annotated[str, Form(max_length=MAX_POLICY_BYTES * 2)] = "",
    rationale: Rationale = "",
    tlp: Annotated[str, Form(max_length=40)] = TLP.AMBER_STRICT.value,
    markings: Markings = [],  # noqa: B006 - FastAPI copies a form default per request
) -> Response:
    """The what-if: what the chosen policy decides on the evidence now. Records nothing."""
    same_origin(request)
    filled = Filled(source, preset, policy_b64, rationale, tlp, tuple(markings))

    def build() -> Response:
        carried = filled
        uploaded = _uploaded(policy_file) if source == "file" else b""
        if uploaded:
            # The file itself, whole, becomes the policy carried on to the determination.
            _decoded(uploaded)
            carried = replace(filled, policy_b64=base64.b64encode(uploaded).decode("ascii"))
        return _whatif_page(request, ctx, submission_id, carried)

    return guarded(request, lambda: _in_form(request, ctx, submission_id, filled, build))


@router.post("/submissions/{submission_id}/coverage/determinations", response_model=None)
def determine(
    request: Request,
    submission_id: str,
    ctx: PageContext,
    digest: Annotated[str, Form(min_length=64, max_length=64)],
    source: Annotated[str, Form(max_length=10)] = "preset",
    preset: Annotated[str, Form(max_length=120)] = "",
    policy_b64: Annotated[str, Form(max_length=MAX_POLICY_BYTES * 2)] = "",
    rationale: Rationale = "",
    tlp: Annotated[str, Form(max_length=40)] = TLP.AMBER_STRICT.value,
    markings: Markings = [],  # noqa: B006 - FastAPI copies a form default per request
) -> Response:
    """Record the determination the person confirmed on the what-if's page, if the policy
    still decides what that page showed; otherwise show the new outcome to confirm again."""
    same_origin(request)
    filled = Filled(source, preset, policy_b64, rationale, tlp, tuple(markings))
    db, actor, now, rules = ctx.db, ctx.actor, ctx.now, _rules(ctx)

    def build() -> Response:
        choice = _choice(filled)
        data = _determination(filled, choice)
        _, judgement = coverage.what_if(db, actor, submission_id, choice, now, rules)
        if whatif_digest(judgement.policy.sha256, judgement) != digest:
            changed = EvidenceChanged(
                "the policy no longer decides what your what-if showed (a run was uploaded or "
                "the evidence changed); nothing was recorded"
            )
            return _whatif_page(request, ctx, submission_id, filled, Problem.of(changed))
        coverage.determine(db, actor, submission_id, data, now, rules)
        target = f"/web/submissions/{submission_id}/coverage"
        if request.headers.get("hx-request") == "true":
            return Response(status_code=200, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    return guarded(request, lambda: _in_form_whatif(request, ctx, submission_id, filled, build))


def _in_form_whatif(
    request: Request, ctx: RequestContext, submission_id: str, filled: Filled, build: Any
) -> Response:
    """As :func:`_in_form`, for the determination: a problem with the rationale or markings
    shows the what-if again (the policy is fine), anything else the form."""
    try:
        response: Response = build()
        return response
    except InvalidInput as error:
        ctx.db.rollback()
        problem = Problem.of(error)
        try:
            _choice(filled)
        except InvalidInput:
            return coverage_page(request, ctx, submission_id, filled=filled, problem=problem)
        return _whatif_page(request, ctx, submission_id, filled, problem)
