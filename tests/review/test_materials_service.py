"""Materials: encrypted at rest, streamed both ways, need-to-know by TLP, shredded on withdrawal."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from prereview.audit.models import AuditEntry
from prereview.core.clock import FixedClock
from prereview.vault.models import DataKeyRecord
from support.factories import Platform
from support.factories.review import consent_partner

CARD = b"Model card for Atlas 2.0. Known limitations: writes exploits for web CVEs. " * 2000


def upload(
    platform: Platform,
    sub_id: str,
    data: bytes,
    who: str = "developer",
    expect: int = 201,
    **params: str,
) -> dict:
    query = {"filename": "card.md", "kind": "model_card"} | params
    return platform.call(
        who,
        "POST",
        f"/submissions/{sub_id}/materials",
        expect,
        params=query,
        content=data,
        headers={"content-type": "text/markdown"},
    ).json()


def blob_files(platform: Platform) -> list[Path]:
    return sorted(Path(platform.context.settings.blob_dir).rglob("*.prvs"))


def test_round_trip_and_encrypted_at_rest(platform: Platform) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    material = upload(platform, sub["id"], CARD, tlp="TLP:AMBER", marking="PROPRIETARY")
    assert material["size"] == len(CARD)
    assert material["sha256"] == hashlib.sha256(CARD).hexdigest()
    assert material["markings"] == ["PROPRIETARY"]

    [stored] = blob_files(platform)
    raw = stored.read_bytes()
    assert b"Model card" not in raw and CARD[:64] not in raw
    assert len(raw) > len(CARD)  # header and per-chunk tags

    got = platform.call("agency", "GET", f"/materials/{material['id']}/content", 200)
    assert got.content == CARD
    assert got.headers["x-content-sha256"] == material["sha256"]
    with platform.context.sessions() as db:
        actions = db.scalars(
            select(AuditEntry.action).where(AuditEntry.object_id == material["id"])
        ).all()
    assert "review:material:download" in actions


def test_large_upload_streams_in_many_chunks(platform: Platform) -> None:
    sub = platform.submit()
    data = os.urandom(3 * (1 << 20) + 12345)

    def pieces():  # a streamed body, as the CLI sends it
        for start in range(0, len(data), 256 * 1024):
            yield data[start : start + 256 * 1024]

    response = platform.call(
        "developer",
        "POST",
        f"/submissions/{sub['id']}/materials",
        201,
        params={"filename": "weights.safetensors", "kind": "weights"},
        content=pieces(),
    )
    material = response.json()
    assert material["size"] == len(data)
    assert (
        platform.call("developer", "GET", f"/materials/{material['id']}/content", 200).content
        == data
    )


def test_partners_see_only_what_is_marked_shareable(platform: Platform) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    consent_partner(platform, sub["id"], reason="hospital")
    shared = upload(
        platform, sub["id"], b"shareable summary", filename="summary.md", tlp="TLP:GREEN"
    )
    private = upload(
        platform, sub["id"], b"system card", filename="system.md", tlp="TLP:AMBER+STRICT"
    )

    partner_list = platform.call(
        "partner", "GET", f"/submissions/{sub['id']}/materials", 200
    ).json()["items"]
    assert [m["id"] for m in partner_list] == [shared["id"]]
    platform.call("partner", "GET", f"/materials/{shared['id']}/content", 200)
    refused = platform.call("partner", "GET", f"/materials/{private['id']}/content", 403).json()
    assert "TLP" in refused["detail"]
    agency_list = platform.call("agency", "GET", f"/submissions/{sub['id']}/materials", 200).json()[
        "items"
    ]
    assert {m["id"] for m in agency_list} == {shared["id"], private["id"]}
    platform.call("other_agency", "GET", f"/materials/{private['id']}/content", 404)
    platform.call(
        "agency",
        "POST",
        f"/submissions/{sub['id']}/materials",
        403,
        params={"filename": "x"},
        content=b"x",
    )


def test_withdrawal_shreds_the_key_and_the_bytes_are_noise(platform: Platform) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    material = upload(platform, sub["id"], CARD)
    [stored] = blob_files(platform)
    before = stored.read_bytes()

    platform.call("developer", "POST", f"/submissions/{sub['id']}/withdraw", 200)
    gone = platform.call("developer", "GET", f"/materials/{material['id']}/content", 410).json()
    assert gone["type"] == "urn:prereview:problem:vault-key-shredded"
    with platform.context.sessions() as db:
        record = db.get(DataKeyRecord, f"submission:{sub['id']}")
        assert record is not None and record.wrapped is None and record.shredded_at is not None
    # The ciphertext is still on disk, unchanged, and holds no trace of the plaintext.
    after = stored.read_bytes()
    assert after == before
    assert CARD[:32] not in after
    upload(platform, sub["id"], b"more", expect=409)


def test_retention_period_shreds_on_read(platform: Platform, clock: FixedClock) -> None:
    sub = platform.submit()
    platform.grant(sub["id"], window_days=14)
    material = upload(platform, sub["id"], b"eval report")
    retention = platform.context.settings.retention_days
    clock.advance(timedelta(days=14 + retention - 1))
    platform.call("developer", "GET", f"/materials/{material['id']}/content", 200)
    clock.advance(timedelta(days=1))
    platform.call("developer", "GET", f"/materials/{material['id']}/content", 410)


@pytest.mark.parametrize(
    ("params", "body", "status", "slug"),
    [
        ({"filename": "a.md"}, b"", 422, "material-empty"),
        ({"filename": "../etc/passwd"}, b"x", 422, "invalid-input"),
        ({"filename": "a.md", "tlp": "TLP:PURPLE"}, b"x", 422, "invalid-input"),
        ({"filename": "a.md", "marking": "SECRET-SAUCE"}, b"x", 422, "invalid-input"),
        ({}, b"x", 422, "invalid-input"),
    ],
)
def test_bad_uploads_leave_nothing(
    platform: Platform, params: dict, body: bytes, status: int, slug: str
) -> None:
    sub = platform.submit()
    problem = platform.call(
        "developer",
        "POST",
        f"/submissions/{sub['id']}/materials",
        status,
        params=params,
        content=body,
    ).json()
    assert problem["type"] == f"urn:prereview:problem:{slug}"
    assert (
        platform.call("developer", "GET", f"/submissions/{sub['id']}/materials", 200).json()[
            "items"
        ]
        == []
    )
    assert blob_files(platform) == []
    assert not list(Path(platform.context.settings.blob_dir).rglob("*.partial"))


def test_too_large_is_refused(platform: Platform) -> None:
    platform.context.settings.max_material_bytes = 1000
    sub = platform.submit()
    problem = platform.call(
        "developer",
        "POST",
        f"/submissions/{sub['id']}/materials",
        413,
        params={"filename": "w.bin"},
        content=b"x" * 5000,
    ).json()
    assert problem["type"].endswith("material-too-large")
    assert blob_files(platform) == []


def test_tampered_blob_aborts_the_download(platform: Platform) -> None:
    sub = platform.submit()
    material = upload(platform, sub["id"], os.urandom(2 * (1 << 20) + 5))
    [stored] = blob_files(platform)
    raw = bytearray(stored.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    stored.write_bytes(bytes(raw))
    try:
        response = platform.call("developer", "GET", f"/materials/{material['id']}/content")
    except Exception:  # the transport saw the server abort the body mid-stream
        received = None
    else:
        received = response.content
    assert received is None or len(received) < material["size"]
    # What did arrive was verified before it was sent: at most the chunks before the damage.
    assert received is None or len(received) <= len(raw) // 2


# -- file names: kept as given, refused if unsafe, always downloadable -------------------------


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("报告.pdf", "%E6%8A%A5%E5%91%8A.pdf"),
        ("launch 🚀 notes.md", "launch%20%F0%9F%9A%80%20notes.md"),
        ('say "hi" 100%.txt', "say%20%22hi%22%20100%25.txt"),
    ],
)
def test_any_unicode_name_uploads_and_downloads(
    platform: Platform, name: str, encoded: str
) -> None:
    sub = platform.submit()
    material = upload(platform, sub["id"], b"bytes", filename=name)
    assert material["filename"] == name
    got = platform.call("developer", "GET", f"/materials/{material['id']}/content", 200)
    assert got.content == b"bytes"
    disposition = got.headers["content-disposition"]
    assert disposition.isascii()
    assert disposition.endswith(f"filename*=UTF-8''{encoded}")
    assert disposition.startswith('attachment; filename="')


def test_names_are_stored_in_nfc(platform: Platform) -> None:
    sub = platform.submit()
    material = upload(platform, sub["id"], b"bytes", filename="re\u0301sume\u0301.pdf")
    assert material["filename"] == "r\u00e9sum\u00e9.pdf"


@pytest.mark.parametrize(
    "name", ["bad\x7fname.pdf", "line\u2028break.pdf", "para\u2029.pdf", "x\u202efdp.exe", ".."]
)
def test_unsafe_names_are_refused_before_anything_is_stored(platform: Platform, name: str) -> None:
    sub = platform.submit()
    refused = platform.call(
        "developer",
        "POST",
        f"/submissions/{sub['id']}/materials",
        422,
        params={"filename": name, "kind": "model_card"},
        content=b"bytes",
    ).json()
    assert refused["type"] in {
        "urn:prereview:problem:invalid-filename",
        "urn:prereview:problem:invalid-input",
    }
    assert blob_files(platform) == []
    assert (
        platform.call("developer", "GET", f"/submissions/{sub['id']}/materials", 200).json()[
            "items"
        ]
        == []
    )


def test_a_name_stored_before_the_check_still_downloads(platform: Platform) -> None:
    from prereview.review.models import Material

    sub = platform.submit()
    material = upload(platform, sub["id"], b"bytes")
    with platform.context.sessions() as db:
        row = db.get(Material, material["id"])
        assert row is not None
        row.filename = "old\x7fname\u2028.pdf"
        db.commit()
    got = platform.call("developer", "GET", f"/materials/{material['id']}/content", 200)
    assert got.headers["content-disposition"].isascii()
    assert "%7F" in got.headers["content-disposition"]
