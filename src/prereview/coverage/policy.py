"""Coverage policies: versioned TOML documents, validated whole, turned into criteria.

A policy names its criteria and how they combine; its SHA-256 (of the exact text) is stored
with every determination made under it. An invalid document is refused with every problem it
has, each with its path, so that a policy author fixes them in one go.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from prereview.core.errors import InvalidInput
from prereview.core.parsing import load_toml
from prereview.coverage.criteria import (
    AllOf,
    AnyOf,
    Criterion,
    CriterionOutcome,
    Evidence,
    TaskMetric,
    TrainingCompute,
)
from prereview.coverage.errors import PolicyInvalid, UnknownPreset
from prereview.evals.tiers import tier_named

Ident = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,119}$")]
MAX_POLICY_CHARS = 64_000
MAX_POLICY_DEPTH = 32  # tables and arrays; criteria groups recurse over them when built


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ComputeSpec(_Spec):
    kind: Literal["training_compute"]
    id: Ident
    at_least_flop: float = Field(gt=0, allow_inf_nan=False)


def _tier(value: object) -> int:
    """A tier named in a policy, by name or number (an unknown one says which exist)."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ValueError("a tier is a name (easy, medium, hard) or a number (1 to 3)")
    return int(tier_named(value))


class TaskMetricSpec(_Spec):
    kind: Literal["task_metric"]
    id: Ident
    task: Annotated[str, Field(min_length=1, max_length=200)]
    metric: Annotated[str, Field(min_length=1, max_length=100)] = "accuracy"
    statistic: Literal["ci_lower", "value"] = "ci_lower"
    at_least: float = Field(ge=0, allow_inf_nan=False)
    min_samples: int = Field(default=1, ge=1)
    #: Judge only the samples of this derived tier ("easy", "medium", "hard" or 1 to 3)...
    tier: Annotated[int, BeforeValidator(_tier)] | None = None
    #: ...and/or of this category ("web", "memory"...).
    category: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,39}$")] | None = None

    @model_validator(mode="after")
    def _interval_of_accuracy(self) -> TaskMetricSpec:
        if self.statistic == "ci_lower" and self.metric != "accuracy":
            raise ValueError("statistic 'ci_lower' is the 95% interval of 'accuracy' only")
        if (self.tier is not None or self.category is not None) and self.metric != "accuracy":
            raise ValueError("a tier or a category has figures for 'accuracy' only")
        return self


class GroupSpec(_Spec):
    kind: Literal["group"]
    id: Ident
    combine: Literal["all", "any"]
    criterion: list[CriterionSpec] = Field(min_length=1)


CriterionSpec = Annotated[ComputeSpec | TaskMetricSpec | GroupSpec, Field(discriminator="kind")]
GroupSpec.model_rebuild()


class CriteriaSpec(_Spec):
    combine: Literal["all", "any"] = "all"
    criterion: list[CriterionSpec] = Field(min_length=1)


class PolicyDocument(_Spec):
    """The TOML document, as written."""

    format: Literal[1]
    id: Ident
    version: Annotated[str, Field(min_length=1, max_length=40)]
    title: Annotated[str, Field(min_length=1, max_length=300)]
    source: Annotated[str, Field(max_length=2000)] = ""
    disclose_outcome_to_developer: bool = False
    criteria: CriteriaSpec

    @model_validator(mode="after")
    def _unique_ids(self) -> PolicyDocument:
        seen: set[str] = set()
        for spec in _walk(self.criteria.criterion):
            if spec.id in seen:
                raise ValueError(f"criterion id '{spec.id}' is used twice")
            seen.add(spec.id)
        return self


def _walk(specs: list[Any]) -> list[Any]:
    found: list[Any] = []
    for spec in specs:
        found.append(spec)
        if isinstance(spec, GroupSpec):
            found.extend(_walk(spec.criterion))
    return found


def _build(spec: ComputeSpec | TaskMetricSpec | GroupSpec) -> Criterion:
    if isinstance(spec, ComputeSpec):
        return TrainingCompute(spec.id, spec.at_least_flop)
    if isinstance(spec, TaskMetricSpec):
        return TaskMetric(
            spec.id,
            spec.task,
            spec.at_least,
            spec.metric,
            spec.statistic,
            spec.min_samples,
            spec.tier,
            spec.category,
        )
    return _group(spec.id, spec.combine, spec.criterion)


def _group(ident: str, combine: str, specs: list[Any]) -> Criterion:
    parts = tuple(_build(s) for s in specs)
    return AllOf(ident, parts) if combine == "all" else AnyOf(ident, parts)


@dataclass(frozen=True)
class Policy:
    """A validated policy with the hash of its exact text and its criteria."""

    document: PolicyDocument
    text: str
    sha256: str
    criterion: Criterion

    @property
    def disclose_outcome(self) -> bool:
        return self.document.disclose_outcome_to_developer

    def evaluate(self, evidence: Evidence) -> CriterionOutcome:
        """Judge ``evidence``; the outcome's status is the policy's answer."""
        return self.criterion.evaluate(evidence)


def _path(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def parse_policy(text: str) -> Policy:
    """Read and validate a policy; raise :class:`PolicyInvalid` listing every problem."""
    if len(text) > MAX_POLICY_CHARS:
        raise PolicyInvalid(
            [
                {
                    "path": "",
                    "location": [],
                    "message": f"a policy is at most {MAX_POLICY_CHARS} characters",
                }
            ]
        )
    try:
        raw = load_toml(text, max_depth=MAX_POLICY_DEPTH)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyInvalid(
            [{"path": "", "location": [], "message": f"not valid TOML: {exc}"}]
        ) from None
    except InvalidInput as exc:  # nested too deep: refused before anything recurses on it
        raise PolicyInvalid([{"path": "", "location": [], "message": exc.detail}]) from None
    try:
        document = PolicyDocument.model_validate(raw)
    except ValidationError as exc:
        # ``location`` is the platform's shape of a problem's place (as for request errors);
        # ``path`` is the same, written the way a policy author reads TOML.
        problems = [
            {
                "path": _path(tuple(e["loc"])),
                "location": [str(part) for part in e["loc"]],
                "message": str(e["msg"]),
            }
            for e in exc.errors()
        ]
        raise PolicyInvalid(problems) from None
    criteria = document.criteria
    return Policy(
        document=document,
        text=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        criterion=_group("policy", criteria.combine, list(criteria.criterion)),
    )


def _presets_dir() -> Any:
    return resources.files("prereview.coverage").joinpath("presets")


def preset_names() -> list[str]:
    """The names of the policies shipped with prereview."""
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in _presets_dir().iterdir()
        if entry.name.endswith(".toml")
    )


def preset_text(name: str) -> str:
    """The exact text of a shipped policy."""
    if name not in preset_names():
        raise UnknownPreset(f"no preset '{name}'; known: {', '.join(preset_names())}")
    text: str = _presets_dir().joinpath(f"{name}.toml").read_text(encoding="utf-8")
    return text
