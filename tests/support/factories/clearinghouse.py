"""Clearinghouse factories: vulnerability report documents and row counts for its tests."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text

from prereview.core.db import transaction
from support.factories import Platform

V31 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
V40 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"


def report(report_id: str | None = None, **extra: Any) -> dict[str, Any]:
    """A valid report document (a path traversal in uploadkit); ``extra`` overrides fields."""
    return {
        "id": report_id or f"PRV-{uuid.uuid4().hex[:10]}",
        "title": "Path traversal in upload handler",
        "description": "save_upload() in app/upload.py joins the user's file name to the upload "
        "root without normalising it, so '../' sequences write outside the root.",
        "affected": [{"purl": "pkg:pypi/uploadkit@1.2.0"}],
        "cwes": ["CWE-22"],
        "discovered_by": {"kind": "model", "model": "frontier-x", "review_id": "sub_abc"},
        **extra,
    }


def count(platform: Platform, table: str) -> int:
    """The number of rows in ``table`` (a name from the tests, never from input)."""
    with transaction(platform.context.sessions) as db:
        return int(db.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
