"""One-time invitations: how a newly admitted organisation gets its first administrator."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from prereview.authz.kinds import OrgKind
from prereview.core.clock import FixedClock
from prereview.core.db import transaction
from prereview.core.errors import PrereviewError
from prereview.identity import errors, invitations
from prereview.identity.models import Invitation, User
from prereview.identity.service import hash_token
from support.factories import Platform
from support.factories.identity import admit, bootstrap_again, redeem


def _invite(platform: Platform, org_id: str, who: str = "clearinghouse", **body: Any) -> Any:
    body = {"email": "Founder@Fresh.example"} | body
    return platform.call(who, "POST", f"/organisations/{org_id}/invitations", 201, json=body).json()


def test_a_new_organisation_gets_its_first_administrator(platform: Platform) -> None:
    """The gap: the clearinghouse admits an organisation, may not create its users (403), and
    `admin bootstrap` refuses on a non-empty platform. An invitation closes it."""
    org_id = admit(platform)
    platform.call(
        "clearinghouse",
        "POST",
        f"/organisations/{org_id}/users",
        403,
        json={"email": "founder@fresh.example", "name": "F"},
    )
    with pytest.raises(errors.AlreadyBootstrapped, match="invite"):
        bootstrap_again(platform, "Another", OrgKind.DEVELOPER, "x@another.example", "X")

    invitation = _invite(platform, org_id)
    assert invitation["role"] == "admin" and invitation["email"] == "founder@fresh.example"
    assert invitation["secret"].startswith("pri_")
    expected_expiry = platform.context.clock.now() + timedelta(days=7)
    assert invitation["expires_at"].replace("Z", "+00:00") == expected_expiry.isoformat()
    with platform.context.sessions() as db:
        stored = db.get(Invitation, invitation["id"])
        assert stored is not None and stored.secret_hash == hash_token(invitation["secret"])
        columns = " ".join(str(getattr(stored, c.key)) for c in Invitation.__table__.columns)
        assert invitation["secret"] not in columns

    done = redeem(platform, invitation["secret"], 201)  # no Authorization header at all
    assert done["user"]["role"] == "admin" and done["organisation"]["id"] == org_id
    headers = {"Authorization": f"Bearer {done['token']['token']}"}
    me = platform.client.get("/api/v1/me", headers=headers).json()
    assert me["user"]["email"] == "founder@fresh.example"
    # The new administrator runs its organisation from here on.
    added = platform.client.post(
        f"/api/v1/organisations/{org_id}/users",
        json={"email": "second@fresh.example", "name": "Second"},
        headers=headers,
    )
    assert added.status_code == 201


def test_an_invitation_works_once(platform: Platform) -> None:
    """Attack: a leaked or replayed invitation creates a second account."""
    invitation = _invite(platform, admit(platform))
    redeem(platform, invitation["secret"], 201)
    again = redeem(platform, invitation["secret"], 410)
    assert again["type"] == "urn:prereview:problem:invitation-gone"
    assert "already been used" in again["detail"]
    unknown = redeem(platform, "pri_" + "x" * 43, 404)
    assert unknown["type"] == "urn:prereview:problem:invitation-not-found"


def test_a_spare_first_invitation_dies_once_the_organisation_has_people(
    platform: Platform,
) -> None:
    """Attack: at admission the clearinghouse makes two invitations, hands one over and keeps
    the other to let itself in later."""
    org_id = admit(platform)
    handed = _invite(platform, org_id)
    kept = _invite(platform, org_id, email="spare@clearinghouse.org")
    redeem(platform, handed["secret"], 201)
    late = redeem(platform, kept["secret"], 410)
    assert "has people now" in late["detail"]
    people = platform.call(
        "clearinghouse", "GET", f"/organisations/{org_id}/users", 403
    )  # and the clearinghouse cannot even list them
    assert people.status_code == 403


def test_an_invitation_expires(platform: Platform, clock: FixedClock) -> None:
    invitation = _invite(platform, admit(platform))
    clock.advance(timedelta(days=7))
    expired = redeem(platform, invitation["secret"], 410)
    assert "expired" in expired["detail"]


def test_simultaneous_redemptions_create_one_account(platform: Platform) -> None:
    """Attack: two requests race to redeem the same invitation."""
    org_id = admit(platform)
    secret = _invite(platform, org_id)["secret"]
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def redeem() -> None:
        start.wait()
        try:
            with transaction(platform.context.sessions) as db:
                invitations.redeem_invitation(
                    db, secret, "Racer", platform.context.clock.now(), timedelta(days=1)
                )
            outcomes.append("created")
        except PrereviewError as error:
            outcomes.append(error.slug)

    threads = [threading.Thread(target=redeem) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created", "invitation-gone"]
    with platform.context.sessions() as db:
        people = db.scalar(select(func.count()).where(User.organisation_id == org_id))
    assert people == 1


def test_the_clearinghouse_cannot_invite_itself_into_an_organisation(platform: Platform) -> None:
    """Attack: the operator invites one of its own into a developer that already has people,
    and reads its materials from the inside."""
    developer = platform["developer"].org_id
    refused = platform.call(
        "clearinghouse",
        "POST",
        f"/organisations/{developer}/invitations",
        403,
        json={"email": "mole@clearinghouse.org"},
    ).json()
    assert "already has people" in refused["detail"]
    # Another organisation's administrators cannot either; the developer's own can.
    platform.call(
        "agency",
        "POST",
        f"/organisations/{developer}/invitations",
        403,
        json={"email": "mole@agency.gov"},
    )
    own = _invite(platform, developer, who="developer", email="new@developer.org", role="member")
    assert redeem(platform, own["secret"], 201)["user"]["role"] == "member"
    taken = platform.call(
        "developer",
        "POST",
        f"/organisations/{developer}/invitations",
        409,
        json={"email": "new@developer.org"},
    ).json()
    assert taken["type"].endswith("email-taken")
