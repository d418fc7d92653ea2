"""What a participation attestation states, computed from audit log entries alone.

The server and the offline verifier run this same function: the server over the entries it
selects from its log, the verifier over the entries the attestation carries (each checked
against the signed checkpoint first). So every figure in an attestation is one that anyone
holding it can recompute, and none comes from the developer's request. Standard library only:
the verifier (:mod:`prereview.attestation.verify`) imports it, and embeds nothing else of the
platform.

The entries are the log's leaves (JSON objects with ``seq``, ``at``, ``action``,
``object_type``, ``object_id``, ``submission_id`` and ``detail``); the actions read are those
in :data:`ACTIONS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

PREDICATE_TYPE = "https://prereview.dev/attestation/participation/v1"
"""The in-toto predicate type of a participation attestation (schema shipped beside this)."""

PAYLOAD_TYPE = "application/vnd.in-toto+json"
"""The DSSE payload type of an in-toto Statement."""

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"

SEVERITIES = ("critical", "high", "medium", "low", "informational")
"""Finding severities, most severe first (the review capability's vocabulary)."""

SUBMISSION_CREATE = "review:submission:create"
SUBMISSION_RELEASE = "review:submission:release"
SUBMISSION_WITHDRAW = "review:submission:withdraw"
SUBMISSION_UPDATE = "review:submission:update"
GRANT_CREATE = "review:grant:create"
NOMINATION_DECIDE = "review:nomination:decide"
FINDING_CREATE = "review:finding:create"
FINDING_RESPOND = "review:finding:respond"
MATERIAL_CREATE = "review:material:create"
DETERMINATION_CREATE = "coverage:determination:create"

ACTIONS = (
    SUBMISSION_CREATE,
    GRANT_CREATE,
    SUBMISSION_UPDATE,
    NOMINATION_DECIDE,
    FINDING_CREATE,
    FINDING_RESPOND,
    SUBMISSION_RELEASE,
    SUBMISSION_WITHDRAW,
    DETERMINATION_CREATE,
)
"""The actions an attestation rests on. Material uploads are added only where one proves a
digest the developer named (:func:`digest_entries`); reads are never included."""


class FiguresInvalid(ValueError):
    """The entries do not describe one submission's review (wrong submission, no creation)."""


def relevant(leaf: Mapping[str, Any]) -> bool:
    """Whether a leaf is one an attestation rests on (window changes only, among updates)."""
    action = leaf.get("action")
    if action == SUBMISSION_UPDATE:
        return "window_ends_at" in _detail(leaf)
    return action in ACTIONS


def digest_entries(leaves: Iterable[Mapping[str, Any]], digest: str) -> list[Mapping[str, Any]]:
    """The material uploads whose stored SHA-256 is ``digest`` (lowercase hex)."""
    return [
        leaf
        for leaf in leaves
        if leaf.get("action") == MATERIAL_CREATE and _detail(leaf).get("sha256") == digest
    ]


def _detail(leaf: Mapping[str, Any]) -> Mapping[str, Any]:
    detail = leaf.get("detail")
    return detail if isinstance(detail, Mapping) else {}


def _seconds(start: str, end: str) -> int:
    return int((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds())


def _digests(
    ordered: Sequence[Mapping[str, Any]], declared: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Each digest the developer named, and the upload entry that proves it, if any."""
    out = []
    for of, value in sorted(declared.items()):
        proving = digest_entries(ordered, value)
        out.append(
            {
                "of": of,
                "sha256": value,
                "matchesMaterial": bool(proving),
                "materialEntries": [int(leaf["seq"]) for leaf in proving],
            }
        )
    return out


def _window(ordered: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Opened by the first grant; its end as last set (by a grant or a change of length)."""
    grants = [leaf for leaf in ordered if leaf.get("action") == GRANT_CREATE]
    if not grants:
        return None
    opened = str(grants[0]["at"])
    ends: str | None = None
    for leaf in ordered:
        if leaf.get("action") in (GRANT_CREATE, SUBMISSION_UPDATE):
            value = _detail(leaf).get("window_ends_at")
            if isinstance(value, str):
                ends = value
    length = _seconds(opened, ends) if ends is not None else None
    return {
        "openedAt": opened,
        "endsAt": ends,
        "lengthSeconds": length,
        "lengthDays": length // 86400 if length is not None else None,
    }


def _organisations(ids: Iterable[str], names: Mapping[str, str] | None) -> dict[str, Any]:
    unique = sorted(set(ids))
    out: dict[str, Any] = {"count": len(unique)}
    if names is not None:
        out["named"] = [{"id": org, "name": names.get(org, "")} for org in unique]
    return out


def _findings(ordered: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    severity_of: dict[str, str] = {}
    for leaf in ordered:
        if leaf.get("action") == FINDING_CREATE:
            severity_of[str(leaf["object_id"])] = str(_detail(leaf).get("severity"))
    answered = {
        str(leaf["object_id"])
        for leaf in ordered
        if leaf.get("action") == FINDING_RESPOND and str(leaf["object_id"]) in severity_of
    }
    by_severity = {level: 0 for level in SEVERITIES}
    for level in severity_of.values():
        by_severity[level] = by_severity.get(level, 0) + 1
    return {"total": len(severity_of), "bySeverity": by_severity, "answered": len(answered)}


def _determinations(ordered: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """How many; the outcome only of those whose policy discloses it (its entry carries it)."""
    made = [leaf for leaf in ordered if leaf.get("action") == DETERMINATION_CREATE]
    disclosed = [
        {
            "policyId": str(_detail(leaf).get("policy_id")),
            "policyVersion": str(_detail(leaf).get("policy_version")),
            "outcome": str(_detail(leaf)["outcome"]),
            "at": str(leaf["at"]),
        }
        for leaf in made
        if "outcome" in _detail(leaf)
    ]
    return {
        "exists": bool(made),
        "count": len(made),
        "disclosed": disclosed,
        "undisclosed": len(made) - len(disclosed),
    }


def _first_at(ordered: Sequence[Mapping[str, Any]], action: str) -> str | None:
    return next((str(leaf["at"]) for leaf in ordered if leaf.get("action") == action), None)


def figures(
    submission_id: str,
    leaves: Iterable[Mapping[str, Any]],
    *,
    declared_digests: Mapping[str, str] | None = None,
    names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The attested figures of one submission, from the entries about it, in log order.

    ``declared_digests`` (``{"weights": hex, "modelCard": hex}``) are the digests the
    developer named: each is reported with whether an upload on record has it. ``names``
    (organisation id to name), given only when the developer chooses to name its reviewers,
    adds the names of the agencies and partners. Raises :class:`FiguresInvalid` when an entry
    concerns another submission or the submission's creation is missing.
    """
    ordered = sorted(leaves, key=lambda leaf: int(leaf["seq"]))
    for leaf in ordered:
        if leaf.get("submission_id") != submission_id:
            raise FiguresInvalid(
                f"Entry {leaf.get('seq')} concerns submission {leaf.get('submission_id')!r}, "
                f"not {submission_id!r}."
            )
    offered = _first_at(ordered, SUBMISSION_CREATE)
    if offered is None:
        raise FiguresInvalid(f"No entry records the creation of submission {submission_id!r}.")
    agencies = [
        str(_detail(leaf).get("agency_org_id"))
        for leaf in ordered
        if leaf.get("action") == GRANT_CREATE
    ]
    partners = [
        str(_detail(leaf).get("partner_org_id"))
        for leaf in ordered
        if leaf.get("action") == NOMINATION_DECIDE and _detail(leaf).get("status") == "consented"
    ]
    return {
        "submissionId": submission_id,
        "offeredAt": offered,
        "digests": _digests(ordered, declared_digests or {}),
        "window": _window(ordered),
        "access": {
            "agencies": _organisations(agencies, names),
            "partners": _organisations(partners, names),
        },
        "findings": _findings(ordered),
        "releasedAt": _first_at(ordered, SUBMISSION_RELEASE),
        "withdrawnAt": _first_at(ordered, SUBMISSION_WITHDRAW),
        "determinations": _determinations(ordered),
    }
