"""The clearinghouse's domain model: vulnerability reports and published advisories.

Models validate themselves when built, so an invalid report cannot exist. Build them from
untrusted input with :func:`parse_report` / :func:`parse_advisory`, which turn pydantic's
errors into one :class:`~prereview.clearinghouse.errors.InvalidReport` listing every problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal, TypeVar

from packageurl import PackageURL
from pydantic import (
    AnyUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from prereview.clearinghouse.cvss_scores import CvssScore, score_cvss_v3, score_cvss_v4
from prereview.clearinghouse.errors import InvalidReport, MalformedCvssVector, Problem
from prereview.core.fields import UtcDatetime


class Tlp(StrEnum):
    """Traffic Light Protocol 2.0 labels (FIRST), from least to most restricted."""

    CLEAR = "CLEAR"
    GREEN = "GREEN"
    AMBER = "AMBER"
    AMBER_STRICT = "AMBER+STRICT"
    RED = "RED"


class RangeType(StrEnum):
    """How the versions of a range are ordered (OSV ``ranges[].type``)."""

    ECOSYSTEM = "ECOSYSTEM"
    SEMVER = "SEMVER"
    GIT = "GIT"


class EventKind(StrEnum):
    """An OSV range event: where affected versions start, end (exclusive or inclusive), or stop."""

    INTRODUCED = "introduced"
    FIXED = "fixed"
    LAST_AFFECTED = "last_affected"
    LIMIT = "limit"


class ReferenceType(StrEnum):
    """OSV reference types."""

    ADVISORY = "ADVISORY"
    ARTICLE = "ARTICLE"
    DETECTION = "DETECTION"
    DISCUSSION = "DISCUSSION"
    REPORT = "REPORT"
    FIX = "FIX"
    INTRODUCED = "INTRODUCED"
    GIT = "GIT"
    PACKAGE = "PACKAGE"
    EVIDENCE = "EVIDENCE"
    WEB = "WEB"


# purl type -> OSV ecosystem; products of other types still work, they are exported by CPE/purl.
PURL_TYPE_TO_OSV_ECOSYSTEM: dict[str, str] = {
    "pypi": "PyPI",
    "npm": "npm",
    "maven": "Maven",
    "golang": "Go",
    "cargo": "crates.io",
    "gem": "RubyGems",
    "nuget": "NuGet",
    "composer": "Packagist",
    "hex": "Hex",
    "pub": "Pub",
    "hackage": "Hackage",
    "cran": "CRAN",
    "swift": "SwiftURL",
    "conan": "ConanCenter",
    "github": "GitHub Actions",
}
OSV_ECOSYSTEM_TO_PURL_TYPE: dict[str, str] = {v: k for k, v in PURL_TYPE_TO_OSV_ECOSYSTEM.items()}

# CPE 2.3 formatted string, the regular expression of NIST IR 7695 as published in the CSAF schema.
_CPE23 = re.compile(
    r"^cpe:2\.3:[aho\*\-](:(((\?*|\*?)([a-zA-Z0-9\-\._]|(\\[\\\*\?!\"#\$%&'\(\)\+,/:;<=>@\[\]\^`\{\|\}~]))+(\?*|\*?))|[\*\-])){5}"
    r"(:(([a-zA-Z]{2,3}(-([a-zA-Z]{2}|[0-9]{3}))?)|[\*\-]))"
    r"(:(((\?*|\*?)([a-zA-Z0-9\-\._]|(\\[\\\*\?!\"#\$%&'\(\)\+,/:;<=>@\[\]\^`\{\|\}~]))+(\?*|\*?))|[\*\-])){4}$"
)
_CWE = re.compile(r"^CWE-[1-9][0-9]*$")
_REPORT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}$|^x_[A-Za-z0-9._:+-]{1,126}$")
_GIT_COMMIT = re.compile(r"^(0|[a-f0-9]{40}|[a-f0-9]{64})$")


class RangeEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: EventKind
    version: str = Field(min_length=1, max_length=200)


class VersionRange(BaseModel):
    """An OSV-style range: ordered events over versions of one :class:`RangeType`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: RangeType
    repo: str | None = None
    events: list[RangeEvent] = Field(min_length=1)

    @model_validator(mode="after")
    def _events_are_coherent(self) -> VersionRange:
        kinds = {event.kind for event in self.events}
        if EventKind.INTRODUCED not in kinds:
            raise ValueError("a range needs an 'introduced' event")
        if EventKind.FIXED in kinds and EventKind.LAST_AFFECTED in kinds:
            raise ValueError("'fixed' and 'last_affected' events cannot be in the same range")
        if self.type is RangeType.GIT:
            if not self.repo:
                raise ValueError("a GIT range needs the repository URL in 'repo'")
            bad = [e.version for e in self.events if not _GIT_COMMIT.match(e.version)]
            if bad:
                raise ValueError(f"GIT range events must be full commit hashes (or '0'), not {bad}")
        return self


class AffectedProduct(BaseModel):
    """A product a vulnerability affects, named by purl and/or CPE 2.3, with its versions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    purl: str | None = None
    cpe: str | None = None
    versions: list[str] = Field(default_factory=list)
    ranges: list[VersionRange] = Field(default_factory=list)

    @field_validator("purl")
    @classmethod
    def _valid_purl(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parsed = PackageURL.from_string(value)
        except ValueError as exc:
            raise ValueError(f"invalid purl {value!r}: {exc}") from exc
        return str(parsed.to_string())

    @field_validator("cpe")
    @classmethod
    def _valid_cpe(cls, value: str | None) -> str | None:
        if value is not None and not _CPE23.match(value):
            raise ValueError(f"invalid CPE 2.3 formatted string {value!r}")
        return value

    @model_validator(mode="after")
    def _named(self) -> AffectedProduct:
        if self.purl is None and self.cpe is None:
            raise ValueError("an affected product needs a purl or a CPE 2.3 name")
        return self

    @property
    def package_url(self) -> PackageURL | None:
        """The parsed purl, if the product has one."""
        return PackageURL.from_string(self.purl) if self.purl else None

    @cached_property
    def package_key(self) -> str:
        """The product without version or qualifiers; reports about one product share it."""
        purl = self.package_url
        if purl is not None:
            namespace = f"{purl.namespace}/" if purl.namespace else ""
            return f"pkg:{purl.type}/{namespace}{purl.name}".lower()
        assert self.cpe is not None
        parts = self.cpe.split(":")
        return f"cpe:{parts[3]}:{parts[4]}".lower()

    @property
    def osv_ecosystem(self) -> str | None:
        """The OSV ecosystem of the purl's type, if OSV lists one."""
        purl = self.package_url
        return PURL_TYPE_TO_OSV_ECOSYSTEM.get(purl.type) if purl else None

    @property
    def package_name(self) -> str:
        """The name an ecosystem knows the package by (``group:artifact`` for Maven)."""
        purl = self.package_url
        if purl is None:
            assert self.cpe is not None
            return self.cpe.split(":")[4]
        if not purl.namespace:
            return str(purl.name)
        separator = ":" if purl.type == "maven" else "/"
        return f"{purl.namespace}{separator}{purl.name}"


class Person(BaseModel):
    """A vulnerability found by a person."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["person"] = "person"
    name: str = Field(min_length=1, max_length=200)
    organisation: str | None = None


class ModelRun(BaseModel):
    """A vulnerability found by model X during pre-release review Y."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["model"] = "model"
    model: str = Field(min_length=1, max_length=200)
    review_id: str = Field(min_length=1, max_length=200)


DiscoveredBy = Annotated[Person | ModelRun, Field(discriminator="kind")]


class Reference(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: AnyUrl
    type: ReferenceType = ReferenceType.WEB


def _cvss_field(scorer: Any, field_name: str) -> Any:
    """A before-validator that turns a vector (or a dumped score) into a freshly computed score."""

    def validate(value: Any) -> Any:
        if value is None or isinstance(value, CvssScore):
            return value
        vector = value.get("vector") if isinstance(value, Mapping) else value
        if not isinstance(vector, str):
            raise ValueError("a CVSS vector must be a string")
        try:
            # The score is always recomputed: a stored or imported score is never trusted.
            return scorer(vector, field_name)
        except MalformedCvssVector as exc:
            raise ValueError(exc.detail) from exc

    return BeforeValidator(validate)


CvssV3 = Annotated[CvssScore | None, _cvss_field(score_cvss_v3, "cvss_v3")]
CvssV4 = Annotated[CvssScore | None, _cvss_field(score_cvss_v4, "cvss_v4")]
CweId = Annotated[str, Field(pattern=_CWE.pattern)]
VulnId = Annotated[str, Field(pattern=_REPORT_ID.pattern)]


class Report(BaseModel):
    """A vulnerability report as a reporter organisation submitted it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: VulnId
    title: str = Field(min_length=1, max_length=500)
    description: str = Field(min_length=1, max_length=100_000)
    reporter: str = Field(min_length=1, max_length=200, description="reporting organisation")
    affected: list[AffectedProduct] = Field(min_length=1)
    cwes: list[CweId] = Field(default_factory=list)
    cvss_v3: CvssV3 = None
    cvss_v4: CvssV4 = None
    evidence: str = Field(default="", max_length=200_000)
    code_locations: list[str] = Field(
        default_factory=list,
        description="file paths and functions, e.g. 'src/http/parse.c:read_header'",
    )
    discovered_by: DiscoveredBy | None = None
    references: list[Reference] = Field(default_factory=list)
    aliases: list[VulnId] = Field(default_factory=list)
    upstream: list[VulnId] = Field(default_factory=list)
    related: list[VulnId] = Field(default_factory=list)
    tlp: Tlp = Tlp.AMBER
    published: UtcDatetime | None = None
    modified: UtcDatetime | None = None

    @model_validator(mode="after")
    def _coherent(self) -> Report:
        if self.id in self.aliases:
            raise ValueError("a report cannot be its own alias")
        if self.published and self.modified and self.modified < self.published:
            raise ValueError("'modified' is earlier than 'published'")
        return self

    @cached_property
    def package_keys(self) -> list[str]:
        """The products the report names, without versions (what duplicates must share)."""
        return sorted({product.package_key for product in self.affected})

    @property
    def identifiers(self) -> list[str]:
        """The report's own id and every alias: the names it is known by."""
        return [self.id, *self.aliases]


class Advisory(Report):
    """A report an analyst has published; it has publication times and is what exporters take."""

    published: UtcDatetime
    modified: UtcDatetime


_Model = TypeVar("_Model", bound=BaseModel)


def json_path(location: tuple[int | str, ...]) -> str:
    """A pydantic error location as a JSONPath (``$.affected[0].purl``), like jsonschema's."""
    path = "$"
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def problems_from(error: ValidationError, prefix: tuple[int | str, ...] = ()) -> list[Problem]:
    """Every problem of a pydantic validation error, with its path and a person's message."""
    problems: list[Problem] = []
    for item in error.errors(include_url=False):
        # Discriminated unions put the tag in the location; it names no field, so drop it.
        location = tuple(p for p in item["loc"] if p not in ("person", "model"))
        message = str(item["msg"]).removeprefix("Value error, ")
        problems.append(Problem(path=json_path(prefix + location), message=message))
    return problems


def _parse(model: type[_Model], data: Any, what: str) -> _Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = problems_from(exc)
        raise InvalidReport(f"the {what} has {len(problems)} problem(s)", problems) from exc


def parse_report(data: Any) -> Report:
    """Build a :class:`Report` from untrusted data, or raise ``InvalidReport`` listing all."""
    return _parse(Report, data, "vulnerability report")


def parse_advisory(data: Any) -> Advisory:
    """Build an :class:`Advisory` from untrusted data, or raise ``InvalidReport``."""
    return _parse(Advisory, data, "advisory")


def publish(report: Report, at: datetime, tlp: Tlp | None = None) -> Advisory:
    """The advisory that publishing ``report`` at the (timezone-aware) time ``at`` makes.

    A report published before keeps its first publication time; ``modified`` becomes ``at``.
    """
    data = report.model_dump()
    data["published"] = report.published or at
    data["modified"] = at
    if tlp is not None:
        data["tlp"] = tlp
    return parse_advisory(data)
