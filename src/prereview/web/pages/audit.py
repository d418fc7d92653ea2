"""The audit trail of a submission, for its developer: newest first, a page at a time, each
entry with its inclusion proof, checked in the browser against the log's signed checkpoint.

The page carries what the check needs and nothing it would have to trust: each entry's exact
leaf text (what is hashed into the RFC 9162 tree, and what the row shows), its audit path, and
the checkpoint as the signed note with the log's verifier key. The page's script
(``web/static/prereview-console.js``) verifies the note's Ed25519 signature and folds each
entry's leaf hash up its path to the signed root with WebCrypto, and marks every entry and the
checkpoint passed or failed. Without JavaScript the page says so and gives the commands that
make the same checks from a terminal.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from prereview.audit import service as audit
from prereview.audit.filters import EntryFilter
from prereview.authz.request import RequestContext
from prereview.core.pagination import PageRequest
from prereview.identity import service as identity
from prereview.review import service as review
from prereview.web.render import guarded, page
from prereview.web.session import PageContext

router = APIRouter(prefix="/web", include_in_schema=False)

PAGE_SIZE = 50
ACTION_FILTER = r"^$|^[a-z0-9_.-]+(:[a-z0-9_.-]+)*$"
# The families a developer filters its trail by most (any action can be typed in the address).
ACTIONS = (
    ("review:material", "materials: uploads and downloads"),
    ("review:finding", "findings and responses"),
    ("review:grant", "grants"),
    ("review:nomination", "nominations"),
    ("gateway", "gateway: endpoint, keys, limits, calls"),
    ("review:submission", "the submission itself"),
)


def _rules(ctx: RequestContext) -> review.Rules:
    return review.Rules.from_settings(ctx.settings)


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True)
class Row:
    """One entry as the page shows it, with what the browser needs to check it."""

    seq: int
    at: datetime
    person: str
    organisation: str
    action: str
    object: str
    detail: str
    leaf: str
    proof: str | None  # the audit path, base64 hashes separated by spaces; None: not covered


def _rows(ctx: RequestContext, entries: list[Any], proofs: dict[int, list[bytes]]) -> list[Row]:
    orgs = identity.organisation_names(ctx.db, {e.actor_org_id for e in entries if e.actor_org_id})
    people: dict[str, str] = {}
    for user_id in {e.actor_user_id for e in entries if e.actor_user_id}:
        people[user_id] = identity.get_user(ctx.db, user_id).name
    rows = []
    for entry in entries:
        detail = json.loads(entry.leaf).get("detail") or {}
        path = proofs.get(entry.seq)
        rows.append(
            Row(
                seq=entry.seq,
                at=entry.at,
                person=people.get(entry.actor_user_id or "", "the platform"),
                organisation=orgs.get(entry.actor_org_id or "", ""),
                action=entry.action,
                object=f"{entry.object_type} {entry.object_id or ''}".strip(),
                detail=json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else "",
                leaf=entry.leaf,
                proof=None if path is None else " ".join(_b64(h) for h in path),
            )
        )
    return rows


@router.get("/submissions/{submission_id}/audit", response_model=None)
def audit_page(
    request: Request,
    submission_id: str,
    ctx: PageContext,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = PAGE_SIZE,
    # An action or its family (review:material, review): as the API's ?action=.
    action: Annotated[str, Query(max_length=80, pattern=ACTION_FILTER)] = "",
) -> Response:
    def build() -> Response:
        db, actor, now, rules = ctx.db, ctx.actor, ctx.now, _rules(ctx)
        submission = review.get_submission(db, actor, submission_id, now, rules)
        # The API's audit route's use case: the developer's own submissions, newest first.
        found = review.audit_trail(
            db,
            actor,
            submission_id,
            PageRequest(limit=limit, offset=offset),
            now,
            rules,
            EntryFilter(action=action or None),
        )
        checkpoint, verifier_key = audit.read_checkpoint(db, actor, ctx.settings, now)
        covered = [e.seq for e in found.rows if e.seq < checkpoint.size]
        proofs = audit.inclusion_proofs(db, covered, checkpoint.size) if covered else []
        return page(
            request,
            "audit/trail.html",
            submission=submission,
            rows=_rows(ctx, found.rows, {p.seq: list(p.path) for p in proofs}),
            total=found.total,
            offset=offset,
            limit=limit,
            action=action,
            actions=ACTIONS,
            newer=max(0, offset - limit) if offset > 0 else None,
            older=offset + limit if offset + limit < found.total else None,
            note=checkpoint.note,
            verifier_key=verifier_key,
            size=checkpoint.size,
        )

    return guarded(request, build)
