"""Errors of the clearinghouse, each with a stable problem type.

The problems of an invalid report or CVSS vector are the vulnerability model's
(:mod:`prereview.vulnerability.problems`).
"""

from __future__ import annotations

from prereview.core.errors import Conflict, InvalidInput, NotFound


class UnsupportedIntakeFormat(InvalidInput):
    """A bulk payload whose format is neither JSON Lines, OSV nor CSAF 2.0."""

    slug = "clearinghouse-unsupported-intake-format"
    title = "The bulk import format is not supported"


class RelationConflict(InvalidInput):
    """A relation between vulnerability ids that contradicts the ones already known.

    For example an upstream cycle (A upstream of B upstream of A), or aliasing two ids of which
    one is upstream of the other: they cannot then be the same vulnerability.
    """

    slug = "clearinghouse-relation-conflict"
    title = "The relation contradicts known relations"


class ReportNotFound(NotFound):
    slug = "clearinghouse-report-not-found"
    title = "No such vulnerability report"


class DuplicateReport(Conflict):
    """A report whose id or alias names a report already stored."""

    slug = "clearinghouse-duplicate-report"
    title = "The report is already known"


class CaseNotFound(NotFound):
    slug = "clearinghouse-case-not-found"
    title = "No such case"


class DuplicateNotFound(NotFound):
    slug = "clearinghouse-duplicate-not-found"
    title = "No such duplicate proposal"


class InvalidDecision(Conflict):
    """A merge decision that does not fit the proposal's state (merging a merged pair...)."""

    slug = "clearinghouse-invalid-decision"
    title = "The decision does not apply"


class NotPublished(NotFound):
    slug = "clearinghouse-not-published"
    title = "The report is not a published advisory"


class InvalidCaseChange(InvalidInput):
    slug = "clearinghouse-invalid-case-change"
    title = "The case change is not valid"


class InvalidRegistration(InvalidInput):
    slug = "clearinghouse-invalid-registration"
    title = "The product identifier is not a purl or CPE 2.3 name"


class ClaimNotFound(NotFound):
    slug = "clearinghouse-claim-not-found"
    title = "No such product claim"


class InvalidClaimDecision(Conflict):
    """A decision that does not fit the claim's state (verifying a rejected claim...)."""

    slug = "clearinghouse-invalid-claim-decision"
    title = "The decision does not apply to this claim"


class IdentifierTaken(Conflict):
    """A report id or alias already in use by a report the caller may not see.

    It names nothing: a report the caller may not read must tell it nothing, not even its id.
    """

    slug = "clearinghouse-identifier-taken"
    title = "The report's id or an alias is already in use"


class UnverifiableModelLabel(InvalidInput):
    """A model-found label that the platform cannot verify: the submission is unknown to the
    reporting organisation (it never had access to it), or the model is not the submission's."""

    slug = "clearinghouse-unverifiable-model-label"
    title = "The model-found label cannot be verified"


class InvalidCapacity(InvalidInput):
    slug = "clearinghouse-invalid-capacity"
    title = "The weekly capacity is not valid"


class EmbargoBeforeNotification(Conflict):
    """An embargo that would start before a vendor of the case was told of its report: the
    vendor's weekly capacity has not let the report out yet."""

    slug = "clearinghouse-embargo-before-notification"
    title = "The embargo would start before the vendor is notified"


class CsafFileNotFound(NotFound):
    slug = "clearinghouse-csaf-file-not-found"
    title = "The advisory's CSAF document has another file name"


class InvalidQueueCursor(InvalidInput):
    """A triage queue cursor that this server did not hand out (or for another ordering)."""

    slug = "clearinghouse-invalid-queue-cursor"
    title = "The queue cursor is not valid"


class InvalidFunnelPeriod(InvalidInput):
    """A funnel period whose start is not before its end."""

    slug = "clearinghouse-invalid-funnel-period"
    title = "The funnel's period is not valid"


class NotACaseVendor(NotFound):
    """Removing (or writing to) a vendor that is not on the case."""

    slug = "clearinghouse-not-a-case-vendor"
    title = "Not a vendor of this case"


class ThreadNotFound(NotFound):
    """A vendor's private thread of a case, to anyone but that vendor and the coordinators:
    the same answer whether or not the organisation takes part in the case."""

    slug = "clearinghouse-thread-not-found"
    title = "No such thread"


class InvalidPoc(InvalidInput):
    """A proof of concept the sandbox cannot run as given (a language, an ecosystem or a
    version it does not know, an empty or undecodable script)."""

    slug = "clearinghouse-invalid-poc"
    title = "The proof of concept cannot be accepted"


class PocNotFound(NotFound):
    """A report without a proof of concept (a claim only), or without that PoC version."""

    slug = "clearinghouse-poc-not-found"
    title = "No such proof of concept"
