"""Identity's test factories: organisations, people and their tokens, set up the short way.

The tests of identity, its pages and its commands repeat the same few preparations: admit an
organisation, add a person to one and give them a token, run the server's commands as the
operator, try a second bootstrap. They live here, on the published identity service and the
API, so each test reads as the flow it checks.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prereview.authz.kinds import OrgKind, Role, Sector
from prereview.core.context import AppContext
from prereview.core.db import transaction
from prereview.identity import service as identity
from prereview.identity.schemas import OrganisationCreate, UserCreate
from prereview.identity.service import IssuedToken
from support.factories import Platform


def seed_member(
    context: AppContext,
    org_name: str,
    kind: OrgKind,
    sector: Sector | None,
    email: str,
    name: str,
    role: Role = Role.ADMIN,
    ttl: timedelta = timedelta(days=365),
) -> tuple[str, str, str]:
    """A new organisation with one person and their token, as the platform seeds them (not
    through the API, so no audit entries): ``(org_id, user_id, token)``."""
    now = context.clock.now()
    with transaction(context.sessions) as db:
        org, user = identity.seed_organisation(
            db,
            OrganisationCreate(name=org_name, kind=kind, sector=sector),
            UserCreate(email=email, name=name, role=role),
            now,
        )
        db.flush()
        issued = identity.issue_token_for(db, user, "test", ttl, now)
        return org.id, user.id, issued.plaintext


def token_for(
    platform: Platform, user_id: str, name: str = "test", ttl: timedelta = timedelta(days=30)
) -> IssuedToken:
    """A token for an existing user, issued by the platform itself (as the admin CLI does)."""
    with transaction(platform.context.sessions) as db:
        user = identity.get_user(db, user_id)
        return identity.issue_token_for(db, user, name, ttl, platform.context.clock.now())


def new_member(
    platform: Platform,
    who: str = "developer",
    email: str = "leaver@example.org",
    name: str = "Leaver",
) -> tuple[str, str]:
    """A new person in ``who``'s organisation, added by its administrator through the API, and
    an API token of theirs: ``(user_id, token)``."""
    org = platform[who].org_id
    user = platform.call(
        who, "POST", f"/organisations/{org}/users", 201, json={"email": email, "name": name}
    ).json()
    return user["id"], token_for(platform, user["id"], "laptop").plaintext


def admit(platform: Platform, name: str = "Fresh Lab", kind: str = "developer") -> str:
    """The clearinghouse admits a new organisation (with nobody in it yet); its id."""
    org = platform.call(
        "clearinghouse", "POST", "/organisations", 201, json={"name": name, "kind": kind}
    ).json()
    return str(org["id"])


def bootstrap_again(platform: Platform, name: str, kind: OrgKind, email: str, person: str) -> Any:
    """Try to bootstrap a platform that already has organisations (it must refuse)."""
    with transaction(platform.context.sessions) as db:
        return identity.bootstrap(
            db,
            OrganisationCreate(name=name, kind=kind),
            UserCreate(email=email, name=person),
            platform.context.clock.now(),
            timedelta(days=1),
        )


def operator_env(platform: Platform) -> dict[str, str]:
    """The environment of the platform operator's commands on the server (``prereview admin``)
    for the test platform's database, keys and files."""
    settings = platform.context.settings
    return {
        "PREREVIEW_DATABASE_URL": settings.database_url,
        "PREREVIEW_MASTER_KEY_FILE": str(settings.master_key_file),
        "PREREVIEW_AUDIT_KEY_FILE": str(settings.audit_key_file),
        "PREREVIEW_BLOB_DIR": str(settings.blob_dir),
    }


def redeem(platform: Platform, secret: str, expect: int, name: str = "Founder") -> Any:
    """Redeem an invitation with no token at all (the secret is the credential); the answer."""
    response = platform.client.post(
        "/api/v1/invitations/redeem", json={"secret": secret, "name": name}
    )
    assert response.status_code == expect, response.text
    return response.json()


def me_status(platform: Platform, token: str) -> tuple[int, str]:
    """What ``GET /me`` answers to ``token``: the status and the problem type, if any."""
    response = platform.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.json().get("type", "")
