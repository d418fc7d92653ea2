"""Identity use cases: organisations, users, API tokens, and authenticating a bearer token."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prereview.audit import service as audit
from prereview.core.ids import new_id
from prereview.core.pagination import PageRequest, Slice, paginate
from prereview.identity import errors
from prereview.identity.actor import Actor
from prereview.identity.kinds import OrgKind, Role
from prereview.identity.models import ApiToken, Organisation, User
from prereview.identity.permissions import Permission
from prereview.identity.policy import Access, authorize
from prereview.identity.schemas import OrganisationCreate, TokenCreate, UserCreate

TOKEN_PREFIX = "prv_"  # noqa: S105 - a label, not a secret
# Tokens carry 256 random bits, so a single SHA-256 is the right hash: a slow password hash
# (argon2) buys nothing against guessing and would cost milliseconds on every request.
_TOKEN_BYTES = 32
# last_used_at is a hint for people, not an audit record; writing it at most once a minute
# keeps read requests from turning into writes.
_LAST_USED_GRANULARITY = timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    plaintext: str


def actor_for(user: User, token_id: str | None = None) -> Actor:
    org = user.organisation
    return Actor(
        user_id=user.id,
        organisation_id=org.id,
        org_kind=org.kind,
        role=user.role,
        sector=org.sector,
        token_id=token_id,
    )


def _check_sector(data: OrganisationCreate) -> None:
    if data.kind is OrgKind.TRUSTED_PARTNER and data.sector is None:
        raise errors.SectorMismatch(
            "a trusted partner must name its critical-infrastructure sector (field 'sector')"
        )
    if data.kind is not OrgKind.TRUSTED_PARTNER and data.sector is not None:
        raise errors.SectorMismatch(
            f"only trusted partners have a sector; an organisation of kind '{data.kind}' has none"
        )


def _new_organisation(db: Session, data: OrganisationCreate, now: datetime) -> Organisation:
    _check_sector(data)
    if db.scalar(select(Organisation.id).where(Organisation.name == data.name)):
        raise errors.OrganisationNameTaken(f"an organisation named '{data.name}' already exists")
    org = Organisation(
        id=new_id("org"), name=data.name, kind=data.kind, sector=data.sector, created_at=now
    )
    db.add(org)
    return org


def _new_user(db: Session, org: Organisation, data: UserCreate, now: datetime) -> User:
    email = data.email.lower()
    if db.scalar(select(User.id).where(User.email == email)):
        raise errors.EmailTaken(f"a user with email '{email}' already exists")
    user = User(
        id=new_id("usr"),
        organisation_id=org.id,
        email=email,
        name=data.name,
        role=data.role,
        created_at=now,
    )
    user.organisation = org
    db.add(user)
    return user


def _new_token(db: Session, user: User, name: str, ttl: timedelta, now: datetime) -> IssuedToken:
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)
    token = ApiToken(
        id=new_id("tok"),
        user_id=user.id,
        name=name,
        token_hash=hash_token(plaintext),
        display_prefix=plaintext[:10],
        created_at=now,
        expires_at=now + ttl,
        revoked_at=None,
        last_used_at=None,
    )
    db.add(token)
    return IssuedToken(token=token, plaintext=plaintext)


def bootstrap(
    db: Session,
    org: OrganisationCreate,
    admin: UserCreate,
    now: datetime,
    ttl: timedelta,
) -> tuple[Organisation, User, IssuedToken]:
    """Create the first organisation, its administrator and a token; only on an empty platform."""
    if db.scalar(select(func.count()).select_from(Organisation)):
        raise errors.AlreadyBootstrapped(
            "the platform already has organisations; ask an administrator for a token instead"
        )
    organisation = _new_organisation(db, org, now)
    user = _new_user(db, organisation, admin.model_copy(update={"role": Role.ADMIN}), now)
    db.flush()
    issued = _new_token(db, user, "bootstrap", ttl, now)
    audit.record(
        db,
        actor=None,
        action="identity:platform:bootstrap",
        object_type="organisation",
        object_id=organisation.id,
        at=now,
        detail={"name": organisation.name, "kind": organisation.kind.value},
    )
    db.commit()
    return organisation, user, issued


def create_organisation(
    db: Session, actor: Actor, data: OrganisationCreate, now: datetime
) -> Organisation:
    authorize(actor, Permission.ORG_CREATE)
    org = _new_organisation(db, data, now)
    db.flush()
    audit.record(
        db,
        actor=actor,
        action=Permission.ORG_CREATE,
        object_type="organisation",
        object_id=org.id,
        at=now,
        detail={"name": org.name, "kind": org.kind.value},
    )
    db.commit()
    return org


def list_organisations(
    db: Session, actor: Actor, page: PageRequest, kind: OrgKind | None = None
) -> Slice[Organisation]:
    authorize(actor, Permission.ORG_LIST)
    query = select(Organisation).order_by(Organisation.name)
    if kind is not None:
        query = query.where(Organisation.kind == kind)
    return paginate(db, query, page)


def get_organisation(db: Session, actor: Actor, org_id: str) -> Organisation:
    authorize(actor, Permission.ORG_READ)
    org = db.get(Organisation, org_id)
    if org is None:
        raise errors.OrganisationNotFound(f"no organisation '{org_id}'")
    return org


def organisation_names(db: Session, org_ids: Iterable[str]) -> dict[str, str]:
    """Names of organisations by id, for showing people names rather than ids."""
    wanted = set(org_ids)
    if not wanted:
        return {}
    rows = db.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(wanted)))
    return {org_id: name for org_id, name in rows}


def create_user(db: Session, actor: Actor, org_id: str, data: UserCreate, now: datetime) -> User:
    org = get_organisation(db, actor, org_id)
    authorize(actor, Permission.USER_CREATE, Access(same_org=org.id == actor.organisation_id))
    user = _new_user(db, org, data, now)
    db.flush()
    audit.record(
        db,
        actor=actor,
        action=Permission.USER_CREATE,
        object_type="user",
        object_id=user.id,
        at=now,
        detail={"organisation_id": org.id, "role": user.role.value},
    )
    db.commit()
    return user


def list_users(db: Session, actor: Actor, org_id: str, page: PageRequest) -> Slice[User]:
    org = get_organisation(db, actor, org_id)
    authorize(actor, Permission.USER_LIST, Access(same_org=org.id == actor.organisation_id))
    query = select(User).where(User.organisation_id == org.id).order_by(User.email)
    return paginate(db, query, page)


def get_user(db: Session, user_id: str) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise errors.UserNotFound(f"no user '{user_id}'")
    return user


def issue_token(
    db: Session, actor: Actor, data: TokenCreate, now: datetime, default_ttl: timedelta
) -> IssuedToken:
    """A new token for the calling user; the plaintext is returned once and never stored."""
    authorize(actor, Permission.TOKEN_CREATE, Access(own=True))
    user = get_user(db, actor.user_id)
    ttl = timedelta(days=data.ttl_days) if data.ttl_days else default_ttl
    issued = _new_token(db, user, data.name, ttl, now)
    db.flush()
    audit.record(
        db,
        actor=actor,
        action=Permission.TOKEN_CREATE,
        object_type="token",
        object_id=issued.token.id,
        at=now,
        detail={"name": data.name, "expires_at": issued.token.expires_at.isoformat()},
    )
    db.commit()
    return issued


def issue_token_for(
    db: Session, user: User, name: str, ttl: timedelta, now: datetime
) -> IssuedToken:
    """A token for ``user`` issued by the platform itself (the demo seeder, the admin CLI)."""
    issued = _new_token(db, user, name, ttl, now)
    db.flush()
    audit.record(
        db,
        actor=None,
        action=Permission.TOKEN_CREATE,
        object_type="token",
        object_id=issued.token.id,
        at=now,
        detail={"name": name, "user_id": user.id},
    )
    return issued


def list_tokens(db: Session, actor: Actor, page: PageRequest) -> Slice[ApiToken]:
    authorize(actor, Permission.TOKEN_LIST, Access(own=True))
    query = select(ApiToken).where(ApiToken.user_id == actor.user_id).order_by(ApiToken.created_at)
    return paginate(db, query, page)


def revoke_token(db: Session, actor: Actor, token_id: str, now: datetime) -> ApiToken:
    token = db.get(ApiToken, token_id)
    if token is None:
        raise errors.TokenNotFound(f"no token '{token_id}'")
    access = Access(
        own=token.user_id == actor.user_id,
        same_org=token.user.organisation_id == actor.organisation_id,
    )
    if not (access.own or access.same_org):
        # Another organisation's token: do not even confirm that it exists.
        raise errors.TokenNotFound(f"no token '{token_id}'")
    authorize(actor, Permission.TOKEN_REVOKE, access)
    if token.revoked_at is None:
        token.revoked_at = now
        audit.record(
            db,
            actor=actor,
            action=Permission.TOKEN_REVOKE,
            object_type="token",
            object_id=token.id,
            at=now,
        )
        db.commit()
    return token


def authenticate(db: Session, presented: str | None, now: datetime) -> Actor:
    """The actor behind a bearer token, or an ``Unauthenticated`` error that says why not."""
    if not presented:
        raise errors.TokenMissing("send an API token as 'Authorization: Bearer <token>'")
    digest = hash_token(presented)
    token = db.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    # The lookup is by hash, which leaks nothing useful through timing; the comparison below
    # is constant-time anyway so that no code path compares secret-derived bytes naively.
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        raise errors.TokenInvalid("the API token is not valid")
    if token.revoked_at is not None:
        raise errors.TokenRevoked("the API token was revoked; create a new one")
    if token.expires_at <= now:
        raise errors.TokenExpired("the API token has expired; create a new one")
    if token.last_used_at is None or now - token.last_used_at >= _LAST_USED_GRANULARITY:
        token.last_used_at = now
        db.commit()
    return actor_for(token.user, token.id)
