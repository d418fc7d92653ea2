"""The policy: one rule per permission, unknown permissions denied, rules composed."""

from __future__ import annotations

import pytest

from prereview.core.errors import Forbidden
from prereview.identity.actor import Actor
from prereview.identity.kinds import OrgKind, Role
from prereview.identity.permissions import Permission
from prereview.identity.policy import POLICY, Access, allowed, authorize


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
