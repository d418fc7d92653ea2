"""HTTP routes of coverage determinations: thin, they parse, call the service, shape the answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from prereview.authz.request import Context
from prereview.authz.usecase import exercises
from prereview.core.pagination import Page, PageRequest, page_of_list, page_request
from prereview.coverage import service
from prereview.coverage.models import Determination
from prereview.coverage.policy import Policy, parse_policy
from prereview.coverage.schemas import (
    DeterminationCreate,
    DeterminationNoticeOut,
    DeterminationOut,
    PolicyChoice,
    PolicyOut,
    PresetOut,
    WhatIfOut,
)
from prereview.review.service import Rules

router = APIRouter(tags=["coverage"])
Paging = Annotated[PageRequest, Depends(page_request)]


def policy_out(policy: Policy) -> PolicyOut:
    document = policy.document
    return PolicyOut(
        id=document.id,
        version=document.version,
        title=document.title,
        source=document.source,
        sha256=policy.sha256,
        disclose_outcome_to_developer=document.disclose_outcome_to_developer,
    )


def determination_out(determination: Determination) -> DeterminationOut:
    return DeterminationOut(
        id=determination.id,
        submission_id=determination.submission_id,
        agency_org_id=determination.agency_org_id,
        reviewer_user_id=determination.reviewer_user_id,
        # The stored text was valid when recorded; reading it again gives its source line.
        policy=policy_out(parse_policy(determination.policy_text)),
        policy_text=determination.policy_text,
        outcome=determination.outcome,
        criteria=determination.criteria,
        rationale=determination.rationale,
        tlp=determination.tlp,
        markings=determination.markings,
        evidence_runs=determination.evidence_runs,
        evidence_packs=determination.evidence_packs,
        created_at=determination.created_at,
    )


def notice_out(determination: Determination) -> DeterminationNoticeOut:
    disclosed = determination.disclose_outcome
    return DeterminationNoticeOut(
        id=determination.id,
        submission_id=determination.submission_id,
        agency_org_id=determination.agency_org_id,
        created_at=determination.created_at,
        outcome=determination.outcome if disclosed else None,
        outcome_disclosed=disclosed,
    )


@router.post(
    "/submissions/{submission_id}/determinations",
    status_code=status.HTTP_201_CREATED,
    response_model=DeterminationOut,
    openapi_extra=exercises(service.determine),
)
def determine(submission_id: str, data: DeterminationCreate, ctx: Context) -> DeterminationOut:
    """Record a covered-frontier-model determination under a policy (TOML text or preset)."""
    rules = Rules.from_settings(ctx.settings)
    found = service.determine(ctx.db, ctx.actor, submission_id, data, ctx.now, rules)
    return determination_out(found)


@router.get(
    "/submissions/{submission_id}/determinations",
    response_model=Page[DeterminationOut],
    openapi_extra=exercises(service.list_determinations),
)
def list_determinations(submission_id: str, ctx: Context, page: Paging) -> Page[DeterminationOut]:
    """Determinations in full, for agencies that hold or held a grant."""
    rules = Rules.from_settings(ctx.settings)
    found = service.list_determinations(ctx.db, ctx.actor, submission_id, ctx.now, rules)
    return page_of_list([determination_out(d) for d in found], page)


@router.get(
    "/submissions/{submission_id}/determination-notices",
    response_model=Page[DeterminationNoticeOut],
    openapi_extra=exercises(service.notices),
)
def list_notices(submission_id: str, ctx: Context, page: Paging) -> Page[DeterminationNoticeOut]:
    """For the developer: that determinations exist, and outcomes the policies disclose."""
    rules = Rules.from_settings(ctx.settings)
    found = service.notices(ctx.db, ctx.actor, submission_id, ctx.now, rules)
    return page_of_list([notice_out(d) for d in found], page)


@router.post(
    "/submissions/{submission_id}/coverage/what-if",
    response_model=WhatIfOut,
    openapi_extra=exercises(service.what_if),
)
def what_if(submission_id: str, data: PolicyChoice, ctx: Context) -> WhatIfOut:
    """What a policy would decide on the evidence now; nothing is recorded."""
    rules = Rules.from_settings(ctx.settings)
    submission, found = service.what_if(ctx.db, ctx.actor, submission_id, data, ctx.now, rules)
    return WhatIfOut(
        submission_id=submission.id,
        policy=policy_out(found.policy),
        outcome=found.outcome,
        status=found.criteria.status,
        criteria=found.criteria.as_dict(),
    )


@router.get(
    "/coverage/presets",
    response_model=Page[PresetOut],
    openapi_extra=exercises(service.presets),
)
def list_presets(ctx: Context, page: Paging) -> Page[PresetOut]:
    """The policies shipped with prereview, each citing its public source."""
    found = [
        PresetOut(name=name, policy=policy_out(policy), text=policy.text)
        for name, policy in service.presets(ctx.actor)
    ]
    return page_of_list(found, page)
