"""The review capability's published entry point: what other capabilities, pages and the CLI use.

The use cases live in one module per part of the workflow: :mod:`.submissions` (access,
loaders and the developer's launch controls), :mod:`.grants` (grants and the review window),
:mod:`.nominations`, :mod:`.findings` (findings and the developer's responses) and
:mod:`.materials.service`. This module only re-exports them, so that callers outside review
depend on one stable surface and never on how review arranges its modules inside.
"""

from __future__ import annotations

from prereview.review.findings import file_finding as file_finding
from prereview.review.findings import get_finding as get_finding
from prereview.review.findings import list_findings as list_findings
from prereview.review.findings import respond as respond
from prereview.review.grants import change_window as change_window
from prereview.review.grants import check_window_length as check_window_length
from prereview.review.grants import get_window as get_window
from prereview.review.grants import grant as grant
from prereview.review.grants import grant_is_live as grant_is_live
from prereview.review.grants import list_grants as list_grants
from prereview.review.grants import revoke_grant as revoke_grant
from prereview.review.nominations import decide_nomination as decide_nomination
from prereview.review.nominations import list_nominations as list_nominations
from prereview.review.nominations import nominate as nominate
from prereview.review.nominations import nomination_is_live as nomination_is_live
from prereview.review.submissions import Rules as Rules
from prereview.review.submissions import access_to as access_to
from prereview.review.submissions import audit_trail as audit_trail
from prereview.review.submissions import create_submission as create_submission
from prereview.review.submissions import get_submission as get_submission
from prereview.review.submissions import knows_of as knows_of
from prereview.review.submissions import list_submissions as list_submissions
from prereview.review.submissions import load_submission as load_submission
from prereview.review.submissions import owned_submission as owned_submission
from prereview.review.submissions import queue as queue
from prereview.review.submissions import reach_submission as reach_submission
from prereview.review.submissions import release as release
from prereview.review.submissions import submission_ids_of as submission_ids_of
from prereview.review.submissions import update_submission as update_submission
from prereview.review.submissions import visible_submission as visible_submission
from prereview.review.submissions import window as window
from prereview.review.submissions import withdraw as withdraw

__all__ = [
    "Rules",
    "access_to",
    "audit_trail",
    "change_window",
    "check_window_length",
    "create_submission",
    "decide_nomination",
    "file_finding",
    "get_finding",
    "get_submission",
    "get_window",
    "grant",
    "grant_is_live",
    "knows_of",
    "list_findings",
    "list_grants",
    "list_nominations",
    "list_submissions",
    "load_submission",
    "nominate",
    "nomination_is_live",
    "owned_submission",
    "queue",
    "reach_submission",
    "release",
    "respond",
    "revoke_grant",
    "submission_ids_of",
    "update_submission",
    "visible_submission",
    "window",
    "withdraw",
]
