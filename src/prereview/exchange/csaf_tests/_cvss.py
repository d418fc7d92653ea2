"""Mandatory tests of CVSS scores (6.1.7 to 6.1.10): one score per version and product, valid
under FIRST's schemas, scores computed right, properties that agree with the vector."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from cvss import CVSS2, CVSS3  # type: ignore[import-untyped]
from cvss.exceptions import CVSSError  # type: ignore[import-untyped]

from prereview.exchange.csaf_tests._base import (
    Document,
    Finding,
    items,
    mandatory,
    mapping,
    vulnerabilities,
)
from prereview.exchange.validation import cvss_problems

_LEVELS = {"N": "NONE", "L": "LOW", "H": "HIGH"}
_REQUIREMENT = {"X": "NOT_DEFINED", "L": "LOW", "M": "MEDIUM", "H": "HIGH"}
_V3_AV = {"N": "NETWORK", "A": "ADJACENT_NETWORK", "L": "LOCAL", "P": "PHYSICAL"}
_V3_BASE = {
    "attackVector": ("AV", _V3_AV),
    "attackComplexity": ("AC", {"L": "LOW", "H": "HIGH"}),
    "privilegesRequired": ("PR", _LEVELS),
    "userInteraction": ("UI", {"N": "NONE", "R": "REQUIRED"}),
    "scope": ("S", {"U": "UNCHANGED", "C": "CHANGED"}),
    "confidentialityImpact": ("C", _LEVELS),
    "integrityImpact": ("I", _LEVELS),
    "availabilityImpact": ("A", _LEVELS),
}
# Properties of metrics a vector may leave out; left out means "X" (NOT_DEFINED).
_V3_OPTIONAL = {
    "exploitCodeMaturity": (
        "E",
        {
            "X": "NOT_DEFINED",
            "U": "UNPROVEN",
            "P": "PROOF_OF_CONCEPT",
            "F": "FUNCTIONAL",
            "H": "HIGH",
        },
    ),
    "remediationLevel": (
        "RL",
        {
            "X": "NOT_DEFINED",
            "O": "OFFICIAL_FIX",
            "T": "TEMPORARY_FIX",
            "W": "WORKAROUND",
            "U": "UNAVAILABLE",
        },
    ),
    "reportConfidence": (
        "RC",
        {"X": "NOT_DEFINED", "U": "UNKNOWN", "R": "REASONABLE", "C": "CONFIRMED"},
    ),
    "confidentialityRequirement": ("CR", _REQUIREMENT),
    "integrityRequirement": ("IR", _REQUIREMENT),
    "availabilityRequirement": ("AR", _REQUIREMENT),
    **{
        f"modified{name[0].upper()}{name[1:]}": (
            f"M{abbreviation}",
            {"X": "NOT_DEFINED", **values},
        )
        for name, (abbreviation, values) in _V3_BASE.items()
    },
}
_V2_IMPACT = {"N": "NONE", "P": "PARTIAL", "C": "COMPLETE"}
_V2_REQUIREMENT = {"ND": "NOT_DEFINED", "L": "LOW", "M": "MEDIUM", "H": "HIGH"}
_V2_BASE = {
    "accessVector": ("AV", {"L": "LOCAL", "A": "ADJACENT_NETWORK", "N": "NETWORK"}),
    "accessComplexity": ("AC", {"H": "HIGH", "M": "MEDIUM", "L": "LOW"}),
    "authentication": ("Au", {"M": "MULTIPLE", "S": "SINGLE", "N": "NONE"}),
    "confidentialityImpact": ("C", _V2_IMPACT),
    "integrityImpact": ("I", _V2_IMPACT),
    "availabilityImpact": ("A", _V2_IMPACT),
}
_V2_OPTIONAL = {
    "exploitability": (
        "E",
        {
            "ND": "NOT_DEFINED",
            "U": "UNPROVEN",
            "POC": "PROOF_OF_CONCEPT",
            "F": "FUNCTIONAL",
            "H": "HIGH",
        },
    ),
    "remediationLevel": (
        "RL",
        {
            "ND": "NOT_DEFINED",
            "OF": "OFFICIAL_FIX",
            "TF": "TEMPORARY_FIX",
            "W": "WORKAROUND",
            "U": "UNAVAILABLE",
        },
    ),
    "reportConfidence": (
        "RC",
        {"ND": "NOT_DEFINED", "UC": "UNCONFIRMED", "UR": "UNCORROBORATED", "C": "CONFIRMED"},
    ),
    "collateralDamagePotential": (
        "CDP",
        {
            "ND": "NOT_DEFINED",
            "N": "NONE",
            "L": "LOW",
            "LM": "LOW_MEDIUM",
            "MH": "MEDIUM_HIGH",
            "H": "HIGH",
        },
    ),
    "targetDistribution": (
        "TD",
        {"ND": "NOT_DEFINED", "N": "NONE", "L": "LOW", "M": "MEDIUM", "H": "HIGH"},
    ),
    "confidentialityRequirement": ("CR", _V2_REQUIREMENT),
    "integrityRequirement": ("IR", _V2_REQUIREMENT),
    "availabilityRequirement": ("AR", _V2_REQUIREMENT),
}


def _scores(document: Document) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """Every CVSS object: its path, its member name (cvss_v2 / cvss_v3) and itself."""
    for path, vulnerability in vulnerabilities(document):
        for s, score in enumerate(items(vulnerability.get("scores"))):
            for member in ("cvss_v2", "cvss_v3"):
                cvss = mapping(score).get(member)
                if isinstance(cvss, Mapping):
                    yield f"{path}.scores[{s}].{member}", member, cvss


def _schema_version(member: str, cvss: Mapping[str, Any]) -> str | None:
    version = cvss.get("version")
    if member == "cvss_v2":
        return "2.0"
    return version if version in ("3.0", "3.1") else None


def _valid(member: str, cvss: Mapping[str, Any]) -> bool:
    version = _schema_version(member, cvss)
    return version is not None and not cvss_problems(cvss, version)


@mandatory("6.1.7", "Multiple Scores with same Version per Product")
def repeated_score_version(document: Document) -> Iterator[Finding]:
    for path, vulnerability in vulnerabilities(document):
        seen: set[tuple[str, str]] = set()
        for s, score in enumerate(items(vulnerability.get("scores"))):
            score = mapping(score)
            versions = [
                str(mapping(score.get(member)).get("version"))
                for member in ("cvss_v2", "cvss_v3")
                if member in score
            ]
            for p, product_id in enumerate(items(score.get("products"))):
                for version in versions:
                    if (product_id, version) in seen:
                        yield Finding(
                            "6.1.7",
                            f"{path}.scores[{s}].products[{p}]",
                            f"product {product_id!r} has more than one CVSS {version} score",
                        )
                    seen.add((product_id, version))


@mandatory("6.1.8", "Invalid CVSS")
def invalid_cvss(document: Document) -> Iterator[Finding]:
    for path, member, cvss in _scores(document):
        version = _schema_version(member, cvss)
        if version is None:
            yield Finding("6.1.8", f"{path}.version", "the CVSS version must be 3.0 or 3.1")
            continue
        for problem in cvss_problems(cvss, version):
            yield Finding("6.1.8", path + problem["path"][1:], problem["message"])


def _computed(member: str, vector: str) -> dict[str, Any]:
    """What the vector gives for each score and severity property."""
    if member == "cvss_v2":
        base2, temporal2, environmental2 = CVSS2(vector).scores()
        return {
            "baseScore": base2,
            "temporalScore": temporal2,
            "environmentalScore": environmental2,
        }
    score = CVSS3(vector)
    base, temporal, environmental = score.scores()
    severities = [s.upper() for s in score.severities()]
    return {
        "baseScore": base,
        "baseSeverity": severities[0],
        "temporalScore": temporal,
        "temporalSeverity": severities[1],
        "environmentalScore": environmental,
        "environmentalSeverity": severities[2],
    }


@mandatory("6.1.9", "Invalid CVSS computation")
def wrong_cvss_computation(document: Document) -> Iterator[Finding]:
    for path, member, cvss in _scores(document):
        if not _valid(member, cvss):
            continue  # 6.1.8 says what is wrong
        try:
            computed = _computed(member, cvss["vectorString"])
        except CVSSError as exc:
            yield Finding("6.1.9", f"{path}.vectorString", f"the vector cannot be scored: {exc}")
            continue
        for name, expected in computed.items():
            if name not in cvss or expected is None:
                continue
            given = cvss[name]
            same = (
                Decimal(str(given)) == Decimal(str(expected))
                if name.endswith("Score")
                else given == expected
            )
            if not same:
                yield Finding(
                    "6.1.9", f"{path}.{name}", f"is {given!r}; the vector gives {expected!r}"
                )


def _vector_metrics(member: str, vector: str) -> dict[str, str]:
    parts = vector.split("/")
    if member == "cvss_v3":
        parts = parts[1:]  # "CVSS:3.1"
    return dict(part.split(":", 1) for part in parts if ":" in part)


@mandatory("6.1.10", "Inconsistent CVSS")
def inconsistent_cvss(document: Document) -> Iterator[Finding]:
    for path, member, cvss in _scores(document):
        if not _valid(member, cvss):
            continue
        vector = str(cvss["vectorString"])
        metrics = _vector_metrics(member, vector)
        if member == "cvss_v3" and not vector.startswith(f"CVSS:{cvss['version']}/"):
            yield Finding(
                "6.1.10", f"{path}.version", f"version {cvss['version']} but vector {vector}"
            )
        base, optional, undefined = (
            (_V3_BASE, _V3_OPTIONAL, "X") if member == "cvss_v3" else (_V2_BASE, _V2_OPTIONAL, "ND")
        )
        for name, (abbreviation, values) in {**base, **optional}.items():
            if name not in cvss:
                continue
            in_vector = values.get(metrics.get(abbreviation, undefined))
            if cvss[name] != in_vector:
                yield Finding(
                    "6.1.10",
                    f"{path}.{name}",
                    f"is {cvss[name]!r} but the vector says {abbreviation}:"
                    f"{metrics.get(abbreviation, undefined)}",
                )
