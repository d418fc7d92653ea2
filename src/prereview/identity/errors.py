"""Identity errors: each explains itself and carries a stable problem type."""

from __future__ import annotations

from prereview.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PrereviewError,
    Unauthenticated,
)


class TokenMissing(Unauthenticated):
    slug = "token-missing"


class TokenInvalid(Unauthenticated):
    slug = "token-invalid"


class TokenExpired(Unauthenticated):
    slug = "token-expired"


class TokenRevoked(Unauthenticated):
    slug = "token-revoked"


class OrganisationNotFound(NotFound):
    slug = "organisation-not-found"


class UserNotFound(NotFound):
    slug = "user-not-found"


class TokenNotFound(NotFound):
    slug = "token-not-found"


class OrganisationNameTaken(Conflict):
    slug = "organisation-name-taken"


class EmailTaken(Conflict):
    slug = "email-taken"


class AlreadyBootstrapped(Conflict):
    slug = "already-bootstrapped"


class SectorMismatch(InvalidInput):
    slug = "sector-mismatch"


class UserDeactivated(Unauthenticated):
    slug = "user-deactivated"


class CannotDeactivateSelf(Conflict):
    slug = "cannot-deactivate-self"


class TokenTtlTooLong(InvalidInput):
    slug = "token-ttl-too-long"


class SessionInvalid(Unauthenticated):
    slug = "session-invalid"


class SessionExpired(Unauthenticated):
    slug = "session-expired"


class InvitationNotFound(NotFound):
    slug = "invitation-not-found"


class InvitationGone(PrereviewError):
    """Expired or already used: the person needs a new invitation."""

    slug = "invitation-gone"
    status = 410
    title = "The invitation can no longer be used"
