"""Web sessions: a signed-in browser holds a random session secret, never an API token.

Signing in with an API token opens a session; the cookie carries only the session's secret,
of which the server keeps the SHA-256. A session ends at the earliest of its absolute lifetime,
the expiry of the token that opened it, an idle period, sign-out (revoked on the server, so a
copied cookie stops working too), the revocation of that token, or the deactivation of its
user. Every request re-checks all of them.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from prereview.audit.usecase import commit_audited
from prereview.authz.actor import Actor
from prereview.authz.permissions import Permission
from prereview.authz.policy import Access, authorize
from prereview.authz.usecase import use_case
from prereview.core.ids import new_id
from prereview.identity import errors
from prereview.identity.models import ApiToken, WebSession
from prereview.identity.service import actor_for, authenticate, check_active, hash_token

SESSION_PREFIX = "prs_"  # a label, not a secret
_SESSION_BYTES = 32
# Like a token's last use: written at most once a minute, so reading pages stays reads.
_LAST_SEEN_GRANULARITY = timedelta(minutes=1)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SessionLimits:
    """How long a session may live in all, and unused."""

    lifetime: timedelta
    idle: timedelta


@dataclass(frozen=True)
class OpenedSession:
    session: WebSession
    secret: str


@use_case(Permission.SESSION_CREATE)
def open_session(
    db: Session, presented_token: str | None, now: datetime, limits: SessionLimits
) -> OpenedSession:
    """Check an API token and open a web session for its user; the secret is returned once."""
    actor = authenticate(db, presented_token, now)
    authorize(actor, Permission.SESSION_CREATE)
    token = db.get(ApiToken, actor.token_id)
    assert token is not None  # authenticate found it
    secret = SESSION_PREFIX + secrets.token_urlsafe(_SESSION_BYTES)
    session = WebSession(
        id=new_id("wss"),
        user_id=actor.user_id,
        token_id=token.id,
        secret_hash=hash_token(secret),
        created_at=now,
        last_seen_at=now,
        # Never beyond the token it came from: signing in cannot extend a credential's life.
        expires_at=min(now + limits.lifetime, token.expires_at),
        revoked_at=None,
    )
    db.add(session)
    db.flush()
    commit_audited(
        db,
        actor,
        Permission.SESSION_CREATE,
        object_type="web_session",
        object_id=session.id,
        at=now,
        detail={"token_id": token.id, "expires_at": session.expires_at.isoformat()},
    )
    return OpenedSession(session=session, secret=secret)


def _find(db: Session, secret: str) -> WebSession | None:
    digest = hash_token(secret)
    found = db.scalar(select(WebSession).where(WebSession.secret_hash == digest))
    if found is None or not hmac.compare_digest(found.secret_hash, digest):
        return None
    return found


def authenticate_session(
    db: Session, secret: str | None, now: datetime, limits: SessionLimits
) -> Actor:
    """The actor behind a session cookie, or an ``Unauthenticated`` error that says why not."""
    if not secret:
        raise errors.SessionInvalid("sign in with an API token")
    session = _find(db, secret)
    if session is None:
        raise errors.SessionInvalid("this session is not valid; sign in again")
    if session.revoked_at is not None:
        raise errors.SessionInvalid("this session was signed out; sign in again")
    if session.expires_at <= now:
        raise errors.SessionExpired("this session has expired; sign in again")
    if now - session.last_seen_at >= limits.idle:
        minutes = int(limits.idle.total_seconds() // 60)
        raise errors.SessionExpired(
            f"this session was unused for {minutes} minutes and has ended; sign in again"
        )
    token = session.token
    if token.revoked_at is not None:
        raise errors.SessionInvalid("the API token this session was opened with was revoked")
    if token.expires_at <= now:
        raise errors.SessionExpired("the API token this session was opened with has expired")
    check_active(session.user)
    actor = actor_for(session.user, token.id, session.id)
    if now - session.last_seen_at >= _LAST_SEEN_GRANULARITY:
        _note_seen(db, session.id, now)
    return actor


def _note_seen(db: Session, session_id: str, now: datetime) -> None:
    """Move the idle clock on; if the database is busy the page is served all the same."""
    try:
        db.execute(
            update(WebSession)
            .where(WebSession.id == session_id)
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )
        db.commit()
    except SQLAlchemyError as exc:
        db.rollback()
        log.warning("last use of web session %s not recorded (%s)", session_id, type(exc).__name__)


@use_case(Permission.SESSION_REVOKE)
def close_session(db: Session, secret: str | None, now: datetime) -> None:
    """Sign out: revoke the session on the server, so that a copy of the cookie is useless."""
    if not secret:
        return
    session = _find(db, secret)
    if session is None or session.revoked_at is not None:
        return
    actor = actor_for(session.user, session.token_id, session.id)
    authorize(actor, Permission.SESSION_REVOKE, Access(own=True))
    session.revoked_at = now
    commit_audited(
        db,
        actor,
        Permission.SESSION_REVOKE,
        object_type="web_session",
        object_id=session.id,
        at=now,
    )
