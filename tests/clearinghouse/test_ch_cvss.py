"""CVSS vectors are parsed and scored with the cvss library; a bad one is a clear 422."""

from __future__ import annotations

import pytest

from prereview.clearinghouse.cvss_scores import (
    CvssVersion,
    score_cvss,
    score_cvss_v3,
    score_cvss_v4,
)
from prereview.clearinghouse.errors import MalformedCvssVector


@pytest.mark.parametrize(
    ("vector", "version", "score", "severity"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", CvssVersion.V3_1, 9.8, "Critical"),
        ("CVSS:3.0/AV:L/AC:H/PR:L/UI:R/S:U/C:L/I:N/A:N", CvssVersion.V3_0, 2.2, "Low"),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", CvssVersion.V3_1, 7.5, "High"),
        (
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
            CvssVersion.V4_0,
            9.3,
            "Critical",
        ),
        (
            "CVSS:4.0/AV:L/AC:H/AT:P/PR:H/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N",
            CvssVersion.V4_0,
            1.0,
            "Low",
        ),
    ],
)
def test_vectors_are_scored(vector: str, version: CvssVersion, score: float, severity: str) -> None:
    scored = score_cvss(vector)
    assert (scored.version, scored.base_score, scored.severity) == (version, score, severity)
    assert scored.vector == vector


@pytest.mark.parametrize(
    ("vector", "reason"),
    [
        ("CVSS:3.1/AV:N/AC:L", "Missing mandatory metrics"),
        ("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 'Unknown value "X"'),
        ("AV:N/AC:L/Au:N/C:P/I:P/A:P", "starts with"),
    ],
)
def test_a_malformed_v3_vector_is_named_with_the_reason(vector: str, reason: str) -> None:
    with pytest.raises(MalformedCvssVector) as caught:
        score_cvss_v3(vector)
    error = caught.value
    assert error.status == 422
    assert error.slug == "clearinghouse-malformed-cvss-vector"
    assert vector in error.detail
    assert reason in error.detail
    assert error.problem()["vector"] == vector


def test_versions_are_not_interchangeable() -> None:
    with pytest.raises(MalformedCvssVector, match=r"CVSS:4\.0/"):
        score_cvss_v4("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
    with pytest.raises(MalformedCvssVector, match="Missing mandatory"):
        score_cvss_v4("CVSS:4.0/AV:N")
