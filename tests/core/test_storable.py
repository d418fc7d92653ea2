"""Text with a NUL character is refused alike on SQLite and PostgreSQL: a 422, nothing written.

Found by tests/e2e/test_openapi_fuzz.py on PostgreSQL, where the driver raised ``DataError``
and the answer was a 500.
"""

from __future__ import annotations

from typing import Any

import pytest

from support.factories import Platform

NUL = "\x00"


def _refused(response: Any) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == "urn:prereview:problem:nul-in-text"


@pytest.mark.parametrize(
    ("who", "path", "body"),
    [
        ("developer", "/submissions", {"model_name": f"At{NUL}las", "model_version": "1"}),
        ("developer", "/tokens", {"name": f"ci{NUL}"}),
        (
            "clearinghouse",
            "/clearinghouse/relations",
            {"kind": "upstream", "source": "PRV-1", "target": f"{NUL}CVE-2026-1"},
        ),
    ],
)
def test_nul_in_a_json_body_is_refused_and_nothing_is_written(
    platform: Platform, who: str, path: str, body: dict[str, Any]
) -> None:
    before = platform.call(who, "GET", "/audit/checkpoint", 200).json()["size"]

    _refused(platform.call(who, "POST", path, json=body))

    assert platform.call(who, "GET", "/audit/checkpoint", 200).json()["size"] == before
    if path == "/submissions":
        assert platform.call(who, "GET", "/submissions", 200).json()["items"] == []


def test_nul_in_a_path_parameter_is_refused(platform: Platform) -> None:
    _refused(platform.call("developer", "GET", "/submissions/sub%00x"))
