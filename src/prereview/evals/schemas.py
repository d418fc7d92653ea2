"""Request and response models of evaluation results."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, model_validator

# Strict: JSON true is not 1 (nor 1.0); the counts and scores are numbers or refused.
Fraction = Annotated[StrictFloat, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Seconds = Annotated[StrictFloat, Field(ge=0.0, allow_inf_nan=False)]
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_./:@-]+$")]


class TaskResultIn(BaseModel):
    """One task's summary, as :func:`prereview.evals.runner.result_from_log` gives it.

    These numbers are never evidence: once the task's log is uploaded the server recomputes
    them from it, and a posted accuracy or sample count the log does not support is a 422."""

    model_config = ConfigDict(extra="forbid")

    task: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_./:-]+$")]
    status: Literal["success", "error", "cancelled", "started"]
    accuracy: Fraction | None = None
    stderr: Annotated[StrictFloat, Field(ge=0.0, allow_inf_nan=False)] | None = None
    ci_lower: Fraction | None = None
    ci_upper: Fraction | None = None
    pass_at_k: dict[Name, Fraction] = Field(default_factory=dict, max_length=32)
    metrics: dict[Name, Annotated[StrictFloat, Field(allow_inf_nan=False)]] = Field(
        default_factory=dict, max_length=64
    )
    samples: Annotated[StrictInt, Field(ge=0)] = 0
    scored: Annotated[StrictInt, Field(ge=0)] = 0
    failed_samples: Annotated[StrictInt, Field(ge=0)] = 0
    tokens: dict[Name, Annotated[StrictInt, Field(ge=0)]] = Field(
        default_factory=dict, max_length=16
    )
    settings: dict[str, Any] = Field(default_factory=dict, max_length=64)
    duration_s: Seconds | None = None
    error: Annotated[str, Field(max_length=4000)] | None = None
    pack_id: (
        Annotated[
            str,
            Field(
                pattern=r"^pck_[A-Za-z0-9_-]{1,60}$",
                description="The private task pack the task came from (its id); omitted: "
                "the built-in suite. The log must name the same pack, version and SHA-256.",
            ),
        ]
        | None
    ) = None

    @model_validator(mode="after")
    def _interval_holds_the_estimate(self) -> TaskResultIn:
        low, high, value = self.ci_lower, self.ci_upper, self.accuracy
        if low is not None and high is not None and low > high:
            raise ValueError("ci_lower is above ci_upper")
        if value is not None and (
            (low is not None and value < low) or (high is not None and value > high)
        ):
            raise ValueError("accuracy lies outside its confidence interval")
        return self


class EvalRunCreate(BaseModel):
    """The results of one run of the suite, uploaded by the reviewer who ran it."""

    model_config = ConfigDict(extra="forbid")

    model: Annotated[str, Field(min_length=1, max_length=200)]
    duration_s: Seconds | None = None
    tasks: list[TaskResultIn] = Field(min_length=1, max_length=50)


class EvalLogOut(BaseModel):
    filename: str
    size: int
    sha256: str
    uploaded_at: datetime


class TaskResultOut(BaseModel):
    id: str
    task: str
    status: str
    accuracy: float | None
    stderr: float | None
    ci_lower: float | None
    ci_upper: float | None
    pass_at_k: dict[str, float]
    metrics: dict[str, float]
    samples: int
    scored: int
    failed_samples: int
    tokens: dict[str, int]
    settings: dict[str, Any]
    duration_s: float | None
    error: str | None
    log: EvalLogOut | None
    kind: str = Field(
        description="pending (no log yet: the client's numbers, never evidence), evidence, "
        "or calibration (with kind_reason)"
    )
    kind_reason: str | None = None
    suite_version: str | None = None
    config_sha256: str | None = None
    clusters: int | None = None
    model_calls: int | None = None
    log_model: str | None = None
    pack: str | None = Field(
        default=None,
        description="The task pack the task came from: prereview-suite, or a private pack's "
        "name (whoever may not read a private pack sees its name in place of the task's)",
    )
    pack_version: str | None = None
    pack_sha256: str | None = None


class EvalRunOut(BaseModel):
    id: str
    submission_id: str
    org_id: str
    model: str
    duration_s: float | None
    created_at: datetime
    tasks: list[TaskResultOut]
