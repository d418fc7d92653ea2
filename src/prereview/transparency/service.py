"""Use cases of the transparency report: the public report, and its entries for auditors.

The report is a pure function of the audit log's entries up to a signed checkpoint
(:func:`prereview.transparency.report.build_report`): the server selects the entries of the
actions the report reads from its log and runs it; an auditor reads the same entries with
their inclusion proofs (:func:`report_entries`) and runs it again.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from prereview.audit import service as audit
from prereview.audit.usecase import commit_audited
from prereview.authz.actor import Actor
from prereview.authz.permissions import Permission
from prereview.authz.policy import authorize
from prereview.authz.usecase import use_case
from prereview.core.settings import Settings
from prereview.transparency import errors
from prereview.transparency.figures import ACTIONS
from prereview.transparency.periods import Period, PeriodInvalid, parse_period
from prereview.transparency.report import CheckpointRef, build_report

CHECKPOINT_INTERVAL = timedelta(minutes=1)
"""A public read signs a fresh checkpoint at most this often, however busy the log."""

ENTRIES_PAGE = 500
"""Entries per page for auditors (each with its inclusion proof)."""

# One report per period and checkpoint, kept per process: a public read computes it once, and
# with noise on, asking again must not give a fresh draw (averaging many would take the noise
# away). See the README's limits.
_KEPT: dict[tuple[str, str, float | None], dict[str, Any]] = {}
_KEPT_LOCK = threading.Lock()
_KEPT_REPORTS = 64


def period_named(text: str, now: datetime) -> Period:
    """The period ``text`` names, if it has started; the report's 4xx problems otherwise."""
    try:
        period = parse_period(text)
    except PeriodInvalid as exc:
        raise errors.PeriodInvalid(str(exc)) from None
    if period.start > now:
        raise errors.PeriodNotStarted(
            f"{period.label} starts on {period.start.date().isoformat()}: nothing to report yet"
        )
    return period


def _latest(db: Session, settings: Settings, now: datetime) -> CheckpointRef:
    checkpoint = audit.latest_checkpoint(
        db,
        audit.load_signer(settings),
        settings.audit_origin,
        now,
        min_interval=CHECKPOINT_INTERVAL,
        journal=settings.audit_journal_path,
    )
    return _ref(db, checkpoint, settings.audit_origin)


def _ref(db: Session, checkpoint: Any, origin: str) -> CheckpointRef:
    """A stored checkpoint (the audit log's row) as the report names it."""
    return CheckpointRef(
        origin=origin,
        size=checkpoint.size,
        root=base64.b64encode(checkpoint.root).decode("ascii"),
        note=checkpoint.note,
        verifier_key=audit.verifier_of(db, checkpoint),
        signed_at=checkpoint.signed_at,
    )


def _leaves(db: Session, period: Period, size: int) -> list[dict[str, Any]]:
    rows = audit.entries_with_actions(db, ACTIONS, below=size, before=period.end)
    return [json.loads(row.leaf) for row in rows]


def public_report(
    db: Session, settings: Settings, period_text: str, now: datetime
) -> dict[str, Any]:
    """The public report of the period named ``period_text``, from the latest checkpoint.

    A public read: no caller, no permission. Nothing in it identifies a developer (counts from
    1 to 10 and those that would give them away are withheld).
    """
    period = period_named(period_text, now)
    ref = _latest(db, settings, now)
    epsilon = settings.transparency_epsilon
    # The signed note names the log, its size and root, and is signed by this log's key: the
    # same note means the same entries, so the same report (and, with noise, the same draw).
    key = (period.label, ref.note, epsilon)
    with _KEPT_LOCK:
        if key not in _KEPT:
            if len(_KEPT) >= _KEPT_REPORTS:
                _KEPT.pop(next(iter(_KEPT)))
            _KEPT[key] = build_report(_leaves(db, period, ref.size), period, ref, epsilon=epsilon)
        return _KEPT[key]


@dataclass(frozen=True, slots=True)
class ReportEntries:
    """One page of the entries a report of ``period`` at tree ``size`` is computed from."""

    period: Period
    checkpoint: CheckpointRef
    entries: list[tuple[int, str, list[bytes]]]
    """Each entry's seq, leaf text and inclusion proof in the tree of the checkpoint's size."""
    next_after: int | None


@use_case(Permission.TRANSPARENCY_ENTRIES_READ)
def report_entries(
    db: Session,
    actor: Actor,
    period_text: str,
    size: int,
    after: int,
    settings: Settings,
    now: datetime,
) -> ReportEntries:
    """The entries the report of a period at checkpoint ``size`` rests on, oldest first, a
    page at a time from seq ``after + 1``, each with its inclusion proof; audited."""
    authorize(actor, Permission.TRANSPARENCY_ENTRIES_READ)
    period = period_named(period_text, now)
    stored = audit.checkpoint_at(db, size)
    if stored is None:
        raise errors.CheckpointUnknown(
            f"no checkpoint of size {size} was signed: name the one the report gives"
        )
    checkpoint = _ref(db, stored, settings.audit_origin)
    rows = audit.entries_with_actions(
        db, ACTIONS, below=size, before=period.end, after=after, limit=ENTRIES_PAGE + 1
    )
    page, more = rows[:ENTRIES_PAGE], len(rows) > ENTRIES_PAGE
    proofs = audit.inclusion_proofs(db, [row.seq for row in page], size) if page else []
    entries = [(row.seq, row.leaf, proof.path) for row, proof in zip(page, proofs, strict=True)]
    commit_audited(
        db,
        actor,
        Permission.TRANSPARENCY_ENTRIES_READ,
        object_type="transparency_report",
        object_id=None,
        at=now,
        detail={"period": period.label, "size": size, "after": after, "entries": len(entries)},
    )
    return ReportEntries(
        period=period,
        checkpoint=checkpoint,
        entries=entries,
        next_after=page[-1].seq if more and page else None,
    )
