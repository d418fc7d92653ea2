"""Identity use cases: organisations, users (and deactivating them), API tokens, authenticating.

Web sessions are in :mod:`prereview.identity.sessions`, invitations in
:mod:`prereview.identity.invitations`; both build on the helpers here.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from prereview.audit import service as audit
from prereview.audit.usecase import commit_audited, reach
from prereview.authz.actor import Actor
from prereview.authz.kinds import OrgKind, Role
from prereview.authz.permissions import Permission
from prereview.authz.policy import Access, authorize
from prereview.authz.usecase import use_case
from prereview.core.ids import new_id
from prereview.core.pagination import PageRequest, Slice, paginate
from prereview.identity import errors
from prereview.identity.models import ApiToken, Organisation, User, WebSession
from prereview.identity.schemas import OrganisationCreate, TokenCreate, UserCreate

log = logging.getLogger(__name__)

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


def actor_for(user: User, token_id: str | None = None, session_id: str | None = None) -> Actor:
    org = user.organisation
    return Actor(
        user_id=user.id,
        organisation_id=org.id,
        org_kind=org.kind,
        role=user.role,
        sector=org.sector,
        token_id=token_id,
        session_id=session_id,
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
    # Unique per organisation only: the answer must say nothing about other organisations.
    taken = select(User.id).where(User.organisation_id == org.id, User.email == email)
    if db.scalar(taken):
        raise errors.EmailTaken(f"your organisation already has a user with email '{email}'")
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


def _new_token(
    db: Session,
    user: User,
    name: str,
    ttl: timedelta,
    now: datetime,
    not_after: datetime | None = None,
) -> IssuedToken:
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)
    expires_at = now + ttl if not_after is None else min(now + ttl, not_after)
    token = ApiToken(
        id=new_id("tok"),
        user_id=user.id,
        name=name,
        token_hash=hash_token(plaintext),
        display_prefix=plaintext[:10],
        created_at=now,
        expires_at=expires_at,
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
            "the platform already has organisations: ask the clearinghouse to admit yours and "
            "invite its first administrator (`prereview org invite`, or on the server "
            "`prereview admin invite`), then redeem the invitation "
            "(`prereview invitation redeem`)"
        )
    organisation = _new_organisation(db, org, now)
    user = _new_user(db, organisation, admin.model_copy(update={"role": Role.ADMIN}), now)
    db.flush()
    issued = _new_token(db, user, "bootstrap", ttl, now)
    commit_audited(
        db,
        None,
        "identity:platform:bootstrap",
        object_type="organisation",
        object_id=organisation.id,
        at=now,
        detail={"name": organisation.name, "kind": organisation.kind.value},
    )
    return organisation, user, issued


@use_case(Permission.ORG_CREATE)
def create_organisation(
    db: Session, actor: Actor, data: OrganisationCreate, now: datetime
) -> Organisation:
    authorize(actor, Permission.ORG_CREATE)
    org = _new_organisation(db, data, now)
    db.flush()
    commit_audited(
        db,
        actor,
        Permission.ORG_CREATE,
        object_type="organisation",
        object_id=org.id,
        at=now,
        detail={"name": org.name, "kind": org.kind.value},
    )
    return org


@use_case(Permission.ORG_LIST)
def list_organisations(
    db: Session, actor: Actor, page: PageRequest, kind: OrgKind | None = None
) -> Slice[Organisation]:
    authorize(actor, Permission.ORG_LIST)
    query = select(Organisation).order_by(Organisation.name)
    if kind is not None:
        query = query.where(Organisation.kind == kind)
    return paginate(db, query, page)


def _same_org(actor: Actor) -> Callable[[Organisation], Access]:
    return lambda org: Access(same_org=org.id == actor.organisation_id)


@use_case(Permission.ORG_READ)
def get_organisation(db: Session, actor: Actor, org_id: str) -> Organisation:
    """Any organisation, to anyone signed in: who takes part is not confidential."""
    org, _ = reach(
        actor,
        Permission.ORG_READ,
        db.get(Organisation, org_id),
        _same_org(actor),
        hidden=lambda: errors.OrganisationNotFound(f"no organisation '{org_id}'"),
        knows=lambda _access: True,
    )
    return org


def organisation_names(db: Session, org_ids: Iterable[str]) -> dict[str, str]:
    """Names of organisations by id, for showing people names rather than ids."""
    wanted = set(org_ids)
    if not wanted:
        return {}
    rows = db.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(wanted)))
    return {org_id: name for org_id, name in rows}


def organisation_id_named(db: Session, name: str) -> str | None:
    """The id of the organisation called ``name``, if there is one (names are unique)."""
    return db.scalar(select(Organisation.id).where(Organisation.name == name))


def user_by_email(db: Session, email: str) -> User:
    """The one user with ``email``, for the platform's own seeding (the demo's cast has one
    account per address); raises if there is none or several."""
    return db.scalars(select(User).where(User.email == email.lower())).one()


def actor_of(db: Session, email: str) -> Actor:
    """The actor of the user with ``email``, as if signed in, for the platform's own seeding."""
    return actor_for(user_by_email(db, email))


def seed_organisation(
    db: Session, data: OrganisationCreate, first: UserCreate, now: datetime
) -> tuple[Organisation, User]:
    """An organisation and its first user set up by the platform itself (the demo seeder).

    Neither audited nor committed: the caller seeds a whole scenario in its own transaction,
    the way a database fixture would, so the log starts with the scenario's first use case.
    """
    org = _new_organisation(db, data, now)
    user = _new_user(db, org, first, now)
    return org, user


@use_case(Permission.USER_CREATE)
def create_user(db: Session, actor: Actor, org_id: str, data: UserCreate, now: datetime) -> User:
    org = get_organisation(db, actor, org_id)
    authorize(actor, Permission.USER_CREATE, _same_org(actor)(org))
    user = _new_user(db, org, data, now)
    db.flush()
    commit_audited(
        db,
        actor,
        Permission.USER_CREATE,
        object_type="user",
        object_id=user.id,
        at=now,
        detail={"organisation_id": org.id, "role": user.role.value},
    )
    return user


@use_case(Permission.USER_LIST)
def list_users(db: Session, actor: Actor, org_id: str, page: PageRequest) -> Slice[User]:
    org = get_organisation(db, actor, org_id)
    authorize(actor, Permission.USER_LIST, _same_org(actor)(org))
    query = select(User).where(User.organisation_id == org.id).order_by(User.email)
    return paginate(db, query, page)


def get_user(db: Session, user_id: str) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise errors.UserNotFound(f"no user '{user_id}'")
    return user


@use_case(Permission.ME_READ)
def read_me(db: Session, actor: Actor) -> User:
    """The calling user (with their organisation)."""
    authorize(actor, Permission.ME_READ)
    return get_user(db, actor.user_id)


@use_case(Permission.TOKEN_CREATE)
def issue_token(
    db: Session, actor: Actor, data: TokenCreate, now: datetime, max_ttl: timedelta
) -> IssuedToken:
    """A new token for the calling user; the plaintext is returned once and never stored.

    ``max_ttl`` (the platform's ``PREREVIEW_TOKEN_TTL_DAYS``) is the default and the cap; the new
    token also expires no later than the token (or web session's token) making the request, so
    a stolen short-lived token cannot be traded for a long-lived one.
    """
    authorize(actor, Permission.TOKEN_CREATE, Access(own=True))
    user = get_user(db, actor.user_id)
    if data.ttl_days is not None and timedelta(days=data.ttl_days) > max_ttl:
        raise errors.TokenTtlTooLong(
            f"a token lives at most {max_ttl.days} days on this platform "
            f"(PREREVIEW_TOKEN_TTL_DAYS); ask for ttl_days of {max_ttl.days} or fewer"
        )
    ttl = timedelta(days=data.ttl_days) if data.ttl_days else max_ttl
    parent = db.get(ApiToken, actor.token_id) if actor.token_id else None
    not_after = parent.expires_at if parent is not None else None
    issued = _new_token(db, user, data.name, ttl, now, not_after)
    db.flush()
    commit_audited(
        db,
        actor,
        Permission.TOKEN_CREATE,
        object_type="token",
        object_id=issued.token.id,
        at=now,
        detail={"name": data.name, "expires_at": issued.token.expires_at.isoformat()},
    )
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


@use_case(Permission.TOKEN_LIST)
def list_tokens(db: Session, actor: Actor, page: PageRequest) -> Slice[ApiToken]:
    authorize(actor, Permission.TOKEN_LIST, Access(own=True))
    query = select(ApiToken).where(ApiToken.user_id == actor.user_id).order_by(ApiToken.created_at)
    return paginate(db, query, page)


@use_case(Permission.TOKEN_REVOKE)
def revoke_token(db: Session, actor: Actor, token_id: str, now: datetime) -> ApiToken:
    token, _ = reach(
        actor,
        Permission.TOKEN_REVOKE,
        db.get(ApiToken, token_id),
        lambda token: Access(
            own=token.user_id == actor.user_id,
            same_org=token.user.organisation_id == actor.organisation_id,
        ),
        # Another organisation's token: do not even confirm that it exists.
        hidden=lambda: errors.TokenNotFound(f"no token '{token_id}'"),
        knows=lambda access: access.own or access.same_org,
    )
    if token.revoked_at is None:
        token.revoked_at = now
        commit_audited(
            db, actor, Permission.TOKEN_REVOKE, object_type="token", object_id=token.id, at=now
        )
    return token


def check_active(user: User) -> None:
    """Raise ``UserDeactivated`` if an administrator switched this account off."""
    if user.deactivated_at is not None:
        raise errors.UserDeactivated(
            "this account was deactivated by an administrator of its organisation; its tokens "
            "and sessions no longer work"
        )


def _set_active(db: Session, actor: Actor | None, user: User, active: bool, now: datetime) -> None:
    if (user.deactivated_at is None) == active:
        return  # already so: nothing to change, nothing to record
    permission = Permission.USER_REACTIVATE if active else Permission.USER_DEACTIVATE
    user.deactivated_at = None if active else now
    if not active:
        # A later reactivation restores the user's tokens, not the browsers signed in now.
        db.execute(
            update(WebSession)
            .where(WebSession.user_id == user.id, WebSession.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
    commit_audited(
        db,
        actor,
        permission,
        object_type="user",
        object_id=user.id,
        at=now,
        detail={"organisation_id": user.organisation_id},
    )


def _switch(db: Session, actor: Actor, user_id: str, active: bool, now: datetime) -> User:
    """Only an administrator of the user's own organisation may; a user of another
    organisation is not found, so its existence is not confirmed."""
    user, _ = reach(
        actor,
        Permission.USER_REACTIVATE if active else Permission.USER_DEACTIVATE,
        db.get(User, user_id),
        lambda user: Access(same_org=user.organisation_id == actor.organisation_id),
        hidden=lambda: errors.UserNotFound(f"no user '{user_id}' in your organisation"),
        knows=lambda access: access.same_org,
    )
    if not active and user.id == actor.user_id:
        raise errors.CannotDeactivateSelf(
            "you cannot deactivate yourself; another administrator of your organisation can"
        )
    _set_active(db, actor, user, active, now)
    return user


@use_case(Permission.USER_DEACTIVATE)
def deactivate_user(db: Session, actor: Actor, user_id: str, now: datetime) -> User:
    """Switch an account off: every token and session of the user stops at once (401)."""
    return _switch(db, actor, user_id, False, now)


@use_case(Permission.USER_REACTIVATE)
def reactivate_user(db: Session, actor: Actor, user_id: str, now: datetime) -> User:
    """Switch an account back on: its unexpired, unrevoked tokens work again."""
    return _switch(db, actor, user_id, True, now)


def set_user_active_by_operator(db: Session, user_id: str, active: bool, now: datetime) -> User:
    """The platform operator's switch, from the server's command line (audited, no actor)."""
    user = get_user(db, user_id)
    _set_active(db, None, user, active, now)
    return user


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
    check_active(token.user)
    actor = actor_for(token.user, token.id)
    if token.last_used_at is None or now - token.last_used_at >= _LAST_USED_GRANULARITY:
        _note_last_use(db, token.id, now)
    return actor


def _note_last_use(db: Session, token_id: str, now: datetime) -> None:
    """Record a token's last use. It is a hint for people: if the write cannot be made now
    (the database is busy), the request goes on without it rather than fail."""
    try:
        db.execute(
            update(ApiToken)
            .where(
                ApiToken.id == token_id,
                or_(
                    ApiToken.last_used_at.is_(None),
                    ApiToken.last_used_at <= now - _LAST_USED_GRANULARITY,
                ),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        db.commit()
    except SQLAlchemyError as exc:
        db.rollback()
        log.warning("last use of token %s not recorded (%s)", token_id, type(exc).__name__)
