"""The materials pages: the developer uploads from a form (streamed into the vault), labels and
lists; reviewers download through the API's authorized, audited path; the developer sees who
downloaded what; a bad form changes nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from prereview.core.settings import Settings
from prereview.web.session import COOKIE
from support.factories import Platform
from support.web_matrix import SITE, sign_in

LIMIT = 64 * 1024


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    # A small upload limit, to test it without sending megabytes.
    return Settings(
        database_url=db_url,
        master_key_file=tmp_path / "master.keys",
        audit_key_file=tmp_path / "audit.key",
        blob_dir=tmp_path / "blobs",
        max_material_bytes=LIMIT,
    )


def _as(platform: Platform, who: str) -> dict[str, str]:
    return SITE | {"cookie": f"{COOKIE}={sign_in(platform, who)}"}


def _submission(platform: Platform) -> str:
    sub = platform.submit(model_name="Helios")
    platform.grant(sub["id"])
    nomination = platform.call(
        "agency",
        "POST",
        f"/submissions/{sub['id']}/nominations",
        201,
        json={"partner_org_id": platform["partner"].org_id, "reason": "hospital EHR"},
    ).json()
    platform.call(
        "developer", "POST", f"/submissions/{sub['id']}/nominations/{nomination['id']}/consent", 200
    )
    return str(sub["id"])


def _upload(
    platform: Platform,
    headers: dict[str, str],
    submission_id: str,
    files: Any,
    data: Any = None,
) -> Any:
    return platform.client.post(
        f"/web/submissions/{submission_id}/materials",
        headers=headers,
        data=data or {},
        files=files,
        follow_redirects=False,
    )


def _materials(platform: Platform, submission_id: str) -> list[dict[str, Any]]:
    found = platform.call("developer", "GET", f"/submissions/{submission_id}/materials", 200)
    return list(found.json()["items"])


def test_developer_uploads_and_reviewers_download_audited(platform: Platform) -> None:
    sid = _submission(platform)
    developer = _as(platform, "developer")
    card = "Model card: Helios ✓ résumé\n".encode() * 50
    weights = bytes(range(256)) * 40
    answer = _upload(
        platform,
        developer,
        sid,
        files={"file": ("card.md", card, "text/markdown")},
        data={"kind": "model_card", "tlp": "TLP:AMBER", "marking": ["PROPRIETARY", "CUI"]},
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/web/submissions/{sid}/materials"
    answer = _upload(
        platform,
        developer,
        sid,
        files={"file": ("weights.bin", weights)},
        data={"kind": "weights", "tlp": "TLP:RED"},
    )
    assert answer.status_code == 303, answer.text
    stored = {m["filename"]: m for m in _materials(platform, sid)}
    assert stored["card.md"]["tlp"] == "TLP:AMBER"
    assert stored["card.md"]["markings"] == ["PROPRIETARY", "CUI"]
    assert stored["card.md"]["kind"] == "model_card"
    assert stored["card.md"]["sha256"] == hashlib.sha256(card).hexdigest()
    assert stored["card.md"]["size"] == len(card)
    assert stored["weights.bin"]["tlp"] == "TLP:RED"
    # Encrypted at rest: no blob holds the plain text.
    blobs = b"".join(
        p.read_bytes() for p in Path(platform.context.settings.blob_dir).rglob("*") if p.is_file()
    )
    assert b"Model card: Helios" not in blobs

    listing = platform.client.get(f"/web/submissions/{sid}/materials", headers=developer)
    assert listing.status_code == 200
    assert "card.md" in listing.text and "TLP:AMBER" in listing.text
    assert "PROPRIETARY, CUI" in listing.text
    assert 'id="no-downloads"' in listing.text

    # The agency downloads both; the partner only what TLP:AMBER lets reach it.
    agency = _as(platform, "agency")
    page = platform.client.get(f"/web/submissions/{sid}/materials", headers=agency)
    assert (
        "weights.bin" in page.text
        and "card.md" in page.text
        and "<form" not in page.text.split("</header>")[1]
    )
    got = platform.client.get(
        f"/web/materials/{stored['weights.bin']['id']}/download", headers=agency
    )
    assert got.status_code == 200 and got.content == weights
    assert got.headers["x-content-sha256"] == hashlib.sha256(weights).hexdigest()
    assert "weights.bin" in got.headers["content-disposition"]
    partner = _as(platform, "partner")
    shared = platform.client.get(f"/web/submissions/{sid}/materials", headers=partner)
    assert "card.md" in shared.text and "weights.bin" not in shared.text
    assert (
        platform.client.get(
            f"/web/materials/{stored['weights.bin']['id']}/download", headers=partner
        ).status_code
        == 403
    )
    assert (
        platform.client.get(
            f"/web/materials/{stored['card.md']['id']}/download", headers=partner
        ).content
        == card
    )
    outsider = _as(platform, "other_agency")
    assert (
        platform.client.get(
            f"/web/materials/{stored['card.md']['id']}/download", headers=outsider
        ).status_code
        == 404
    )

    # The developer sees who downloaded what, newest first, by name.
    after = platform.client.get(f"/web/submissions/{sid}/materials", headers=developer)
    downloads = after.text.split('id="downloads"')[1]
    assert downloads.index("card.md") < downloads.index("weights.bin")  # newest first
    assert "agency org" in downloads and "partner org" in downloads
    assert "other agency" not in downloads
    # The same downloads the audit trail holds, one entry each.
    trail = platform.call(
        "developer", "GET", f"/submissions/{sid}/audit", 200, params={"limit": 200}
    )
    actions = [e["action"] for e in trail.json()["items"]]
    assert actions.count("review:material:download") == 2
    assert actions.count("review:material:create") == 2


def test_reviewers_see_no_upload_form_and_cannot_upload(platform: Platform) -> None:
    sid = _submission(platform)
    agency = _as(platform, "agency")
    answer = _upload(platform, agency, sid, files={"file": ("x.txt", b"x")})
    assert answer.status_code == 403
    other = _as(platform, "other_developer")
    assert _upload(platform, other, sid, files={"file": ("x.txt", b"x")}).status_code == 404
    assert (
        platform.client.get(f"/web/submissions/{sid}/materials", headers=other).status_code == 404
    )
    assert _materials(platform, sid) == []


@pytest.mark.parametrize(
    ("files", "data", "status", "slug"),
    [
        ({"file": ("empty.txt", b"")}, {}, 422, "material-empty"),
        # No file chosen (httpx sends no filename, a browser an empty one): refused either way.
        ({"file": ("", b"abc")}, {}, 422, "upload-form-invalid|invalid-filename"),
        ({"file": ("a\u202etxt.exe", b"abc")}, {}, 422, "invalid-filename"),
        ({"file": ("a.txt", b"abc")}, {"tlp": "TLP:PURPLE"}, 422, "upload-form-invalid"),
        ({"file": ("a.txt", b"abc")}, {"marking": "SECRET"}, 422, "upload-form-invalid"),
        ({"file": ("a.txt", b"abc")}, {"kind": "novel"}, 422, "upload-form-invalid"),
        ({"file": ("big.bin", b"\0" * (LIMIT + 1))}, {}, 413, "material-too-large"),
        (None, {"tlp": "TLP:RED"}, 422, "upload-form-invalid"),
    ],
)
def test_a_bad_upload_is_refused_and_changes_nothing(
    platform: Platform, files: Any, data: Any, status: int, slug: str
) -> None:
    sid = _submission(platform)
    developer = _as(platform, "developer")
    if files is None:  # a urlencoded form, not multipart
        answer = platform.client.post(
            f"/web/submissions/{sid}/materials", headers=developer, data=data
        )
    else:
        answer = _upload(platform, developer, sid, files=files, data=data)
    assert answer.status_code == status, answer.text
    assert any(one in answer.text for one in slug.split("|"))
    assert _materials(platform, sid) == []
    blobs = [p for p in Path(platform.context.settings.blob_dir).rglob("*") if p.is_file()]
    assert not [p for p in blobs if p.name.startswith("mat")], blobs


def test_fields_after_the_file_are_refused_not_ignored(platform: Platform) -> None:
    """A TLP label sent after the file would be read too late to label it: refused."""
    sid = _submission(platform)
    boundary = "b0undary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
        "Content-Type: text/plain\r\n\r\nsecret text\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="tlp"\r\n\r\nTLP:CLEAR\r\n'
        f"--{boundary}--\r\n"
    ).encode()
    answer = platform.client.post(
        f"/web/submissions/{sid}/materials",
        headers=_as(platform, "developer")
        | {"content-type": f"multipart/form-data; boundary={boundary}"},
        content=body,
    )
    assert answer.status_code == 422 and "after the file" in answer.text
    assert _materials(platform, sid) == []


def test_an_upload_needs_the_site_origin_and_a_live_submission(platform: Platform) -> None:
    sid = _submission(platform)
    headers = _as(platform, "developer")
    forged = {"cookie": headers["cookie"], "origin": "https://evil.example"}
    assert _upload(platform, forged, sid, files={"file": ("a.txt", b"abc")}).status_code == 403
    platform.call("developer", "POST", f"/submissions/{sid}/withdraw", 200)
    answer = _upload(platform, headers, sid, files={"file": ("a.txt", b"abc")})
    assert answer.status_code == 409 and "window-closed" in answer.text
    assert _materials(platform, sid) == []
    page = platform.client.get(f"/web/submissions/{sid}/materials", headers=headers)
    assert "withdrawn" in page.text and 'id="upload"' not in page.text


def test_an_htmx_upload_is_sent_to_the_list(platform: Platform) -> None:
    sid = _submission(platform)
    answer = _upload(
        platform,
        _as(platform, "developer") | {"hx-request": "true"},
        sid,
        files={"file": ("a.txt", b"abc")},
    )
    assert answer.status_code == 200
    assert answer.headers["hx-redirect"] == f"/web/submissions/{sid}/materials"
    assert [m["filename"] for m in _materials(platform, sid)] == ["a.txt"]
