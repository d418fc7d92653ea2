"""Errors of the review workflow."""

from __future__ import annotations

from prereview.core.errors import Conflict, InvalidInput, NotFound


class SubmissionNotFound(NotFound):
    slug = "submission-not-found"


class GrantNotFound(NotFound):
    slug = "grant-not-found"


class NominationNotFound(NotFound):
    slug = "nomination-not-found"


class FindingNotFound(NotFound):
    slug = "finding-not-found"


class WindowTooLong(InvalidInput):
    slug = "window-too-long"


class WindowClosed(Conflict):
    slug = "window-closed"


class WindowNotOpened(Conflict):
    slug = "window-not-opened"


class NotAnAgency(InvalidInput):
    slug = "not-an-agency"


class NotATrustedPartner(InvalidInput):
    slug = "not-a-trusted-partner"


class AlreadyGranted(Conflict):
    slug = "already-granted"


class AlreadyNominated(Conflict):
    slug = "already-nominated"


class GrantAlreadyRevoked(Conflict):
    slug = "grant-already-revoked"


class PlannedReleaseInPast(InvalidInput):
    slug = "planned-release-in-past"
