"""The policy: one rule per permission, unknown permissions denied, rules composed."""

from __future__ import annotations

import pytest

from prereview.authz.actor import Actor
from prereview.authz.kinds import OrgKind, Role
from prereview.authz.permissions import Permission
from prereview.authz.policy import POLICY, Access, allowed, authorize
from prereview.core.errors import Forbidden
from prereview.core.markings import Tlp


def actor(kind: OrgKind, role: Role = Role.MEMBER) -> Actor:
    return Actor(user_id="usr_x", organisation_id="org_x", org_kind=kind, role=role)


def test_every_permission_has_a_rule() -> None:
    assert set(POLICY) == set(Permission)


def test_unknown_permission_is_denied() -> None:
    with pytest.raises(Forbidden, match="no policy"):
        authorize(actor(OrgKind.DEVELOPER), "review:model:delete")  # type: ignore[arg-type]


def test_release_is_the_owners_alone() -> None:
    for kind in OrgKind:
        assert not allowed(actor(kind, Role.ADMIN), Permission.SUBMISSION_RELEASE, Access())
        assert not allowed(
            actor(kind, Role.ADMIN),
            Permission.SUBMISSION_RELEASE,
            Access(granted_agency=True, consented_partner=True, had_access=True, author=True),
        )
    assert allowed(actor(OrgKind.DEVELOPER), Permission.SUBMISSION_RELEASE, Access(owner=True))


def test_findings_need_a_live_grant_or_consent() -> None:
    agency = actor(OrgKind.AGENCY)
    assert not allowed(agency, Permission.FINDING_CREATE, Access(had_access=True))
    assert allowed(agency, Permission.FINDING_CREATE, Access(granted_agency=True))
    assert allowed(
        actor(OrgKind.TRUSTED_PARTNER), Permission.FINDING_CREATE, Access(consented_partner=True)
    )


def test_refusal_explains_every_alternative() -> None:
    with pytest.raises(Forbidden) as refused:
        authorize(actor(OrgKind.AGENCY), Permission.SUBMISSION_READ, Access())
    assert "owns this submission" in refused.value.detail
    assert "no open grant" in refused.value.detail


def test_only_clearinghouse_admins_admit_organisations() -> None:
    assert allowed(actor(OrgKind.CLEARINGHOUSE, Role.ADMIN), Permission.ORG_CREATE)
    assert not allowed(actor(OrgKind.CLEARINGHOUSE, Role.MEMBER), Permission.ORG_CREATE)
    assert not allowed(actor(OrgKind.AGENCY, Role.ADMIN), Permission.ORG_CREATE)


def test_after_access_ends_an_agency_reads_its_own_work_only() -> None:
    agency = actor(OrgKind.AGENCY)
    live = Access(granted_agency=True, had_access=True)
    ended = Access(had_access=True)
    for permission in (Permission.EVAL_RESULT_READ, Permission.COVERAGE_DETERMINATION_READ):
        assert allowed(agency, permission, live)
        assert not allowed(agency, permission, ended)
        assert allowed(agency, permission, Access(had_access=True, author=True))
    # Another agency's log is never its business, live grant or not.
    assert not allowed(agency, Permission.EVAL_LOG_DOWNLOAD, live)
    assert allowed(agency, Permission.EVAL_LOG_DOWNLOAD, Access(had_access=True, author=True))
    assert allowed(actor(OrgKind.DEVELOPER), Permission.EVAL_LOG_DOWNLOAD, Access(owner=True))


def test_only_the_source_loosens_a_tlp_label() -> None:
    clearinghouse = actor(OrgKind.CLEARINGHOUSE)
    loosening = Access(tlp=Tlp.AMBER_STRICT, loosens_tlp=True)
    for permission in (Permission.CH_ADVISORY_PUBLISH, Permission.CH_REPORT_RELABEL):
        assert not allowed(clearinghouse, permission, loosening)
        assert allowed(clearinghouse, permission, Access(tlp=Tlp.AMBER_STRICT))
    reporter = Access(tlp=Tlp.AMBER_STRICT, loosens_tlp=True, reporter=True)
    assert allowed(actor(OrgKind.AGENCY), Permission.CH_REPORT_RELABEL, reporter)
    assert not allowed(actor(OrgKind.AGENCY), Permission.CH_REPORT_RELABEL, Access(tlp=Tlp.AMBER))


def test_product_claims_are_decided_by_the_clearinghouse() -> None:
    for kind in OrgKind:
        want = kind is OrgKind.CLEARINGHOUSE
        assert allowed(actor(kind), Permission.CH_CLAIM_DECIDE, Access()) is want
        assert allowed(actor(kind), Permission.CH_CLAIM_LIST, Access()) is want
