"""Identity errors: each explains itself and carries a stable problem type."""

from __future__ import annotations

from prereview.core.errors import Conflict, InvalidInput, NotFound, Unauthenticated


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
