"""A report's proof of concept: attaching it, reading it and its reproduction, and the status
the triage queue, the pacing and the funnel read.

The script is confidential material under the report's TLP: it is sealed in the vault under the
report's context (as its evidence is) and only its hash and size are in the row. Only the
reporting organisation attaches one; the reporter, the clearinghouse and verified vendors (a
need to know) read it and its logs, and every such read is audited. Attaching a PoC queues its
reproduction (:mod:`.worker`); a report without one is a claim only.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from prereview.audit import service as audit
from prereview.authz.actor import Actor
from prereview.authz.permissions import Permission
from prereview.authz.policy import PolicyDenied
from prereview.authz.usecase import use_case
from prereview.clearinghouse import errors
from prereview.clearinghouse.models import ReportPoc, Reproduction, VulnReport
from prereview.clearinghouse.reports import evidence_context, readable
from prereview.clearinghouse.reproduction.verdict import STATUS_OF_RANK
from prereview.core.ids import new_id
from prereview.vault import service as vault_service
from prereview.vault.service import Vault

LANGUAGES = ("python", "node")
ECOSYSTEMS = ("PyPI", "npm")
# The one language each ecosystem's releases run under in the sandbox.
LANGUAGE_OF = {"PyPI": "python", "npm": "node"}
_PACKAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+!_-]{0,99}")


@dataclass(frozen=True)
class PocSpec:
    """What a PoC runs against and what counts as reproduced."""

    package: str
    affected_version: str
    fixed_version: str | None = None
    language: str = "python"
    ecosystem: str = "PyPI"
    expect_exit: int = 0
    expect_stdout: str | None = None

    def check(self) -> None:
        """Raise ``InvalidPoc`` naming what the sandbox could not run as given."""
        if self.language not in LANGUAGES:
            raise errors.InvalidPoc(f"language {self.language!r}: the sandbox runs {LANGUAGES}")
        if self.ecosystem not in ECOSYSTEMS:
            raise errors.InvalidPoc(f"ecosystem {self.ecosystem!r}: supported are {ECOSYSTEMS}")
        if LANGUAGE_OF[self.ecosystem] != self.language:
            raise errors.InvalidPoc(
                f"a {self.ecosystem} release runs a {LANGUAGE_OF[self.ecosystem]} PoC, "
                f"not {self.language}"
            )
        if not _PACKAGE.fullmatch(self.package):
            raise errors.InvalidPoc(f"package {self.package!r} is not a package name")
        for name, value in (("affected", self.affected_version), ("fixed", self.fixed_version)):
            if value is not None and not _VERSION.fullmatch(value):
                raise errors.InvalidPoc(f"{name} version {value!r} is not a version")
        if self.fixed_version == self.affected_version:
            raise errors.InvalidPoc("the fixed version must differ from the affected one")
        if not 0 <= self.expect_exit <= 255:
            raise errors.InvalidPoc("expect_exit is an exit status: 0 to 255")
        if self.expect_stdout is not None and not 0 < len(self.expect_stdout) <= 500:
            raise errors.InvalidPoc("expect_stdout is a marker of 1 to 500 characters")


def poc_secret(version: int) -> str:
    """The name the script of PoC ``version`` is sealed under in the report's vault context."""
    return f"poc-{version}"


def _check_script(script: bytes) -> None:
    if not script.strip():
        raise errors.InvalidPoc("the proof of concept is empty")
    try:
        text = script.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.InvalidPoc("the proof of concept is not UTF-8 text") from None
    if "\x00" in text:
        raise errors.InvalidPoc("the proof of concept holds a NUL character")


@use_case(Permission.CH_POC_CREATE, also=(Permission.CH_REPORT_READ,))
def attach_poc(
    db: Session,
    vault: Vault,
    actor: Actor,
    report_id: str,
    script: bytes,
    spec: PocSpec,
    now: datetime,
) -> tuple[ReportPoc, Reproduction]:
    """Attach a PoC to a report (its reporter only) and queue its reproduction; audited."""
    report, _ = readable(db, actor, report_id, Permission.CH_POC_CREATE, now)
    spec.check()
    _check_script(script)
    # Two attaches at once would both take max + 1 (a unique violation: a 500): the report's
    # row is locked first, so the second waits and takes the next version (PostgreSQL).
    db.execute(select(VulnReport.id).where(VulnReport.id == report.id).with_for_update())
    version = (
        db.scalar(select(func.max(ReportPoc.version)).where(ReportPoc.report_id == report.id)) or 0
    ) + 1
    poc = ReportPoc(
        id=new_id("poc"),
        report_id=report.id,
        version=version,
        language=spec.language,
        ecosystem=spec.ecosystem,
        package=spec.package,
        affected_version=spec.affected_version,
        fixed_version=spec.fixed_version,
        expect_exit=spec.expect_exit,
        expect_stdout=spec.expect_stdout,
        script_sha256=hashlib.sha256(script).hexdigest(),
        script_bytes=len(script),
        submitted_by=actor.user_id,
        submitted_at=now,
    )
    db.add(poc)
    db.flush()
    vault_service.put_secret(
        db, vault, evidence_context(report.id), poc_secret(version), script, now
    )
    queued = Reproduction(
        poc_id=poc.id,
        report_id=report.id,
        state="queued",
        verdict=None,
        rank=2,
        detail="",
        runs=[],
        attempts=0,
        lease_until=None,
        queued_at=now,
        started_at=None,
        finished_at=None,
    )
    db.add(queued)
    audit.record(
        db,
        actor=actor,
        action=Permission.CH_POC_CREATE,
        object_type="vulnerability_report",
        object_id=report.id,
        at=now,
        detail={"tlp": report.tlp, "poc_version": version, "sha256": poc.script_sha256},
    )
    db.commit()
    return poc, queued


def _audit_read(db: Session, actor: Actor, report: VulnReport, now: datetime, what: str) -> None:
    audit.record(
        db,
        actor=actor,
        action=Permission.CH_POC_READ,
        object_type="vulnerability_report",
        object_id=report.id,
        at=now,
        detail={"tlp": report.tlp, "read": what},
    )


@use_case(Permission.CH_POC_READ, also=(Permission.CH_REPORT_READ,))
def read_poc(
    db: Session, vault: Vault, actor: Actor, report_id: str, version: int | None, now: datetime
) -> tuple[ReportPoc, bytes]:
    """A PoC's script (the latest version unless ``version``), for those with a need to know;
    audited."""
    report, _ = readable(db, actor, report_id, Permission.CH_POC_READ, now)
    query = select(ReportPoc).where(ReportPoc.report_id == report.id)
    if version is not None:
        query = query.where(ReportPoc.version == version)
    poc = db.scalar(query.order_by(ReportPoc.version.desc()).limit(1))
    if poc is None:
        raise errors.PocNotFound(f"'{report.id}' has no proof of concept: it is a claim only")
    script = vault_service.get_secret(
        db, vault, evidence_context(report.id), poc_secret(poc.version), now
    )
    _audit_read(db, actor, report, now, f"poc-{poc.version}")
    db.commit()
    return poc, script


@use_case(Permission.CH_POC_READ, also=(Permission.CH_REPORT_READ,))
def report_reproductions(
    db: Session, actor: Actor, report_id: str, now: datetime
) -> list[tuple[ReportPoc, Reproduction]]:
    """Every PoC version of a report with its reproduction and logs, newest first; audited."""
    report, _ = readable(db, actor, report_id, Permission.CH_POC_READ, now)
    rows = db.execute(
        select(ReportPoc, Reproduction)
        .join(Reproduction, Reproduction.poc_id == ReportPoc.id)
        .where(ReportPoc.report_id == report.id)
        .order_by(ReportPoc.version.desc())
    ).all()
    _audit_read(db, actor, report, now, "reproductions")
    db.commit()
    return [(poc, reproduction) for poc, reproduction in rows]


def reproduction_rank() -> ColumnElement[int]:
    """Each report's best reproduction rank, as a column of a query over ``ch_reports``:
    0 reproduced, 1 not reproduced, 2 unknown (no PoC, or none judged yet: a claim only)."""
    best = (
        select(func.min(Reproduction.rank))
        .where(Reproduction.report_id == VulnReport.id)
        .correlate(VulnReport)
        .scalar_subquery()
    )
    return func.coalesce(best, 2)


def reproduction_status(db: Session, report_ids: Sequence[str]) -> dict[str, str]:
    """Each report's status: ``reproduced``, ``not_reproduced`` or ``unknown`` (a claim only,
    or a PoC not judged yet). A report reproduced by any PoC version is reproduced."""
    found: dict[str, str] = dict.fromkeys(report_ids, "unknown")
    for start in range(0, len(report_ids), 500):
        chunk = list(report_ids[start : start + 500])
        for report_id, rank in db.execute(
            select(Reproduction.report_id, func.min(Reproduction.rank))
            .where(Reproduction.report_id.in_(chunk))
            .group_by(Reproduction.report_id)
        ):
            found[report_id] = STATUS_OF_RANK[int(rank)]
    return found


def reproduced_moments(db: Session, report_ids: Sequence[str]) -> dict[str, datetime]:
    """When each reproduced report was first reproduced (the server's moment)."""
    found: dict[str, datetime] = {}
    for start in range(0, len(report_ids), 500):
        chunk = list(report_ids[start : start + 500])
        for report_id, at in db.execute(
            select(Reproduction.report_id, func.min(Reproduction.finished_at))
            .where(Reproduction.report_id.in_(chunk), Reproduction.rank == 0)
            .group_by(Reproduction.report_id)
        ):
            if at is not None:
                found[report_id] = at
    return found


@dataclass(frozen=True)
class Standing:
    """What anyone who may read a report sees of its reproduction (no script, no log)."""

    has_poc: bool
    status: str
    verdict: str | None
    state: str | None


def standing(db: Session, report_id: str) -> Standing:
    """A report's reproduction as its page shows it, for code that has already authorized
    the read of the report: the latest PoC's state and verdict, and the best status."""
    latest = db.scalar(
        select(Reproduction)
        .join(ReportPoc, ReportPoc.id == Reproduction.poc_id)
        .where(ReportPoc.report_id == report_id)
        .order_by(ReportPoc.version.desc())
        .limit(1)
    )
    if latest is None:
        return Standing(has_poc=False, status="unknown", verdict=None, state=None)
    status = reproduction_status(db, [report_id])[report_id]
    return Standing(has_poc=True, status=status, verdict=latest.verdict, state=latest.state)


@dataclass(frozen=True)
class ReproductionView:
    """A report's reproduction as its page shows it: the standing for every reader, and each
    PoC version with its verdict and logs only for those with a need to know (None else)."""

    standing: Standing
    pocs: list[tuple[ReportPoc, Reproduction]] | None


def reproduction_view(db: Session, actor: Actor, report_id: str, now: datetime) -> ReproductionView:
    """For a page that has already read the report: what of its reproduction the actor sees
    (reading the PoCs and logs is audited, as through the API)."""
    try:
        pocs: list[tuple[ReportPoc, Reproduction]] | None = report_reproductions(
            db, actor, report_id, now
        )
    except PolicyDenied:
        db.rollback()
        pocs = None
    return ReproductionView(standing(db, report_id), pocs)
