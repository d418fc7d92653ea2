"""Response models of a report's proof of concept and its reproduction."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from prereview.clearinghouse.models import ReportPoc, Reproduction
from prereview.clearinghouse.reproduction.verdict import LABELS

Status = Literal["reproduced", "not_reproduced", "unknown"]


class RunOut(BaseModel):
    """One sandboxed run of the PoC against one release (its log capped)."""

    version: str
    filename: str
    sha256: str
    origin: str
    exit_status: int | None
    timed_out: bool
    stdout: str
    stderr: str
    duration_s: float
    error: str | None = None


class PocOut(BaseModel):
    report_id: str
    version: int
    language: str
    ecosystem: str
    package: str
    affected_version: str
    fixed_version: str | None
    expect_exit: int
    expect_stdout: str | None
    script_sha256: str
    script_bytes: int
    submitted_at: datetime
    # "queued", "running" or "done"; the verdict and its sentence once done.
    state: str
    verdict: str | None
    verdict_label: str | None
    detail: str
    runs: list[RunOut]
    finished_at: datetime | None


class PocScriptOut(BaseModel):
    report_id: str
    version: int
    script_sha256: str
    script: str


class ReproductionOut(BaseModel):
    report_id: str
    # "unknown" with claim_only: the report carries no proof of concept at all.
    status: Status
    claim_only: bool
    pocs: list[PocOut]


def poc_out(poc: ReportPoc, reproduction: Reproduction) -> PocOut:
    runs: list[dict[str, Any]] = reproduction.runs or []
    return PocOut(
        report_id=poc.report_id,
        version=poc.version,
        language=poc.language,
        ecosystem=poc.ecosystem,
        package=poc.package,
        affected_version=poc.affected_version,
        fixed_version=poc.fixed_version,
        expect_exit=poc.expect_exit,
        expect_stdout=poc.expect_stdout,
        script_sha256=poc.script_sha256,
        script_bytes=poc.script_bytes,
        submitted_at=poc.submitted_at,
        state=reproduction.state,
        verdict=reproduction.verdict,
        verdict_label=LABELS.get(reproduction.verdict or ""),
        detail=reproduction.detail,
        runs=[RunOut.model_validate(run) for run in runs],
        finished_at=reproduction.finished_at,
    )
