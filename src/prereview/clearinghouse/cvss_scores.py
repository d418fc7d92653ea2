"""CVSS 3.x and 4.0 vectors, parsed and scored with the ``cvss`` library.

Both versions are kept side by side on a report; neither replaces the other, because CVSS 4.0
scores are not comparable with 3.x scores and consumers ask for one or the other.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache

from cvss import CVSS3, CVSS4  # type: ignore[import-untyped]
from cvss.exceptions import CVSSError  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict

from prereview.clearinghouse.errors import MalformedCvssVector


class CvssVersion(StrEnum):
    V3_0 = "3.0"
    V3_1 = "3.1"
    V4_0 = "4.0"


class CvssScore(BaseModel):
    """A parsed CVSS vector with its base score and qualitative severity."""

    model_config = ConfigDict(frozen=True)

    version: CvssVersion
    vector: str
    base_score: float
    severity: str

    @property
    def is_v4(self) -> bool:
        return self.version is CvssVersion.V4_0


def score_cvss_v3(vector: str, path: str = "cvss_v3") -> CvssScore:
    """Parse and score a CVSS 3.0 or 3.1 vector; raise :class:`MalformedCvssVector` if bad."""
    text = vector.strip()
    if not text.startswith(("CVSS:3.0/", "CVSS:3.1/")):
        raise MalformedCvssVector(
            vector, "a CVSS 3 vector starts with 'CVSS:3.1/' or 'CVSS:3.0/'", path
        )
    try:
        return _scored_v3(text)
    except CVSSError as exc:
        raise MalformedCvssVector(vector, str(exc), path) from exc


# Scores are pure functions of the vector and reports repeat a few hundred vectors: computing
# each once saves most of the scoring time of a bulk import (CVSS 4.0 scoring is slow).
@lru_cache(maxsize=8192)
def _scored_v3(text: str) -> CvssScore:
    parsed = CVSS3(text)
    return CvssScore(
        version=CvssVersion(text[5:8]),
        vector=parsed.clean_vector(),
        base_score=float(parsed.base_score),
        severity=parsed.severities()[0],
    )


def score_cvss_v4(vector: str, path: str = "cvss_v4") -> CvssScore:
    """Parse and score a CVSS 4.0 vector; raise :class:`MalformedCvssVector` if bad."""
    text = vector.strip()
    if not text.startswith("CVSS:4.0/"):
        raise MalformedCvssVector(vector, "a CVSS 4.0 vector starts with 'CVSS:4.0/'", path)
    try:
        return _scored_v4(text)
    except CVSSError as exc:
        raise MalformedCvssVector(vector, str(exc), path) from exc


@lru_cache(maxsize=8192)
def _scored_v4(text: str) -> CvssScore:
    parsed = CVSS4(text)
    return CvssScore(
        version=CvssVersion.V4_0,
        vector=parsed.clean_vector(),
        base_score=float(parsed.base_score),
        severity=str(parsed.severity),
    )


def score_cvss(vector: str, path: str = "cvss") -> CvssScore:
    """Score a vector of either version, chosen by its ``CVSS:x.y/`` prefix."""
    if vector.strip().startswith("CVSS:4.0/"):
        return score_cvss_v4(vector, path)
    return score_cvss_v3(vector, path)
