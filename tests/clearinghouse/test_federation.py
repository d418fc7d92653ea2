"""TAXII 2.1 federation: one platform pulls another's collections over a loopback socket, and
the sync is checked on both sides (counts and digests of ids and versions)."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from prereview.api import create_app
from prereview.authz.actor import Actor
from prereview.clearinghouse import federation
from prereview.clearinghouse.federation import PeerSpec, sync_digest
from prereview.clearinghouse.models import FederationObject, VulnReport
from prereview.clearinghouse.taxii import COLLECTIONS
from prereview.core.clock import FixedClock
from prereview.core.context import AppContext
from prereview.core.db import transaction
from prereview.core.errors import Forbidden
from prereview.core.markings import Tlp
from prereview.core.settings import Settings
from prereview.identity import service as identity
from prereview.vault.service import Vault
from support.factories import Platform
from support.factories.clearinghouse import V31
from support.live import serve

MEDIA = "application/taxii+json;version=2.1"


def collection_id(tlp: Tlp) -> str:
    (found,) = [c.id for c in COLLECTIONS.values() if c.tlp is tlp]
    return found


class Gate:
    """Wraps the peer's app: once ``dies_after`` object pages were served, the peer is dead
    (every request fails with a 500) until revived."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.dies_after: int | None = None
        self.object_pages: list[dict[str, str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            dead = self.dies_after is not None and len(self.object_pages) >= self.dies_after
            if dead:
                await JSONResponse({"title": "down"}, status_code=500)(scope, receive, send)
                return
            if request.url.path.endswith("/objects/"):
                self.object_pages.append(dict(request.query_params))
        await self.app(scope, receive, send)


@dataclass
class Peer:
    platform: Platform
    url: str
    gate: Gate

    @property
    def api_root(self) -> str:
        return f"{self.url}/taxii2/api/"

    @property
    def token(self) -> str:
        return self.platform["clearinghouse"].token

    def advisory(self, rid: str, tlp: str = "GREEN", **extra: Any) -> None:
        body = {
            "id": rid,
            "title": f"Heap overflow {rid}",
            "description": f"parse_{rid.replace('-', '_').lower()}() trusts a length field.",
            "affected": [{"purl": "pkg:npm/framekit@1.0.0"}],
            "cwes": ["CWE-122"],
            "tlp": tlp,
            "modified": "2026-05-01T00:00:00Z",
            **extra,
        }
        self.platform.call("agency", "POST", "/clearinghouse/reports", 201, json=body)
        self.platform.call("clearinghouse", "POST", f"/clearinghouse/reports/{rid}/publish", 200)
        self.tick()

    def tick(self) -> None:
        clock = self.platform.context.clock
        assert isinstance(clock, FixedClock)
        clock.set(clock.now() + timedelta(minutes=5))

    def manifest_digest(self, tlp: Tlp) -> tuple[int, str]:
        """The peer's side computed here, independently, from its manifest alone."""
        answer = httpx.get(
            f"{self.api_root}collections/{collection_id(tlp)}/manifest/",
            headers={"Authorization": f"Bearer {self.token}", "Accept": MEDIA},
        )
        pairs = [
            (e["id"], e["version"])
            for e in answer.json()["objects"]
            if e["id"].startswith("vulnerability--")
        ]
        return len(pairs), sync_digest(pairs)


@pytest.fixture
def peer(sqlite_template: Path, tmp_path: Path) -> Iterator[Peer]:
    """A second, independent platform (its own database and keys), served on a socket."""
    folder = tmp_path / "peer"
    folder.mkdir()
    shutil.copyfile(sqlite_template, folder / "peer.db")
    settings = Settings(
        database_url=f"sqlite:///{folder / 'peer.db'}",
        master_key_file=folder / "master.keys",
        audit_key_file=folder / "audit.key",
        attestation_key_file=folder / "attestation.key",
        blob_dir=folder / "blobs",
    )
    context = AppContext.create(settings, FixedClock(datetime(2026, 6, 1, 9, 0, tzinfo=UTC)))
    app: FastAPI = create_app(context=context)
    gate = Gate(app)
    with TestClient(app, raise_server_exceptions=False) as client:
        platform = Platform.populate(context, client)
        with serve(gate) as url:
            yield Peer(platform, url, gate)
    context.engine.dispose()


def _actor(platform: Platform, who: str = "clearinghouse") -> Actor:
    with transaction(platform.context.sessions) as db:
        return identity.authenticate(db, platform[who].token, platform.context.clock.now())


def _vault(platform: Platform) -> Vault:
    settings = platform.context.settings
    return Vault.local(settings.master_key_file, settings.blob_dir)


def add_peer(platform: Platform, peer: Peer, *tlps: Tlp, landing: Tlp = Tlp.GREEN) -> None:
    spec = PeerSpec(
        name="peer-ch",
        api_root=peer.api_root,
        token=peer.token,
        collections=[collection_id(t) for t in tlps],
        tlp=landing,
        allow_private=True,
    )
    with transaction(platform.context.sessions) as db:
        federation.add_peer(
            db, _vault(platform), _actor(platform), spec, platform.context.clock.now()
        )


def pull(platform: Platform, **options: Any) -> list[dict[str, Any]]:
    options = {"page_size": 3, "backoff": 0.0, "retries": 2} | options
    with platform.context.sessions() as db:
        found = federation.pull(
            db, _vault(platform), _actor(platform), "peer-ch", platform.context.clock, **options
        )
    return [s.summary() for s in found]


def stored(platform: Platform, rid: str) -> dict[str, Any]:
    with platform.context.sessions() as db:
        row = db.scalar(select(VulnReport).where(VulnReport.id == rid))
        assert row is not None, rid
        return dict(row.document) | {"_tlp": row.tlp, "_org": row.reporter_org_id}


def test_a_pull_brings_the_collection_through_intake_and_both_sides_agree(
    platform: Platform, peer: Peer
) -> None:
    for n in range(1, 8):
        peer.advisory(
            f"FED-{n}",
            aliases=[f"CVE-2026-{7000 + n}"],
            cvss_v3=V31,
            references=[{"type": "ADVISORY", "url": f"https://example.org/{n}"}],
        )
    add_peer(platform, peer, Tlp.GREEN)
    (result,) = pull(platform)
    assert result["state"] == "in_sync", result
    assert result["pulled"] == 7
    assert result["peer_side"] == result["our_side"]
    # Both sides computed the same way from manifests alone: the peer's own manifest agrees.
    assert (result["peer_side"]["count"], result["peer_side"]["digest"]) == peer.manifest_digest(
        Tlp.GREEN
    )
    report = stored(platform, "FED-3")
    assert report["reporter"] == "peer-ch"  # the provenance names the peer
    assert report["_org"] == platform["clearinghouse"].org_id
    assert report["_tlp"] == "GREEN"
    assert report["affected"][0]["purl"] == "pkg:npm/framekit@1.0.0"
    assert report["aliases"] == ["CVE-2026-7003"]
    assert report["cvss_v3"]["vector"] == V31
    assert report["references"] == [{"url": "https://example.org/3", "type": "ADVISORY"}]
    assert report["description"] == "parse_fed_3() trusts a length field."

    # A newer version at the peer: the next pull asks only for what was added since, and
    # applies the update (by 'modified') through intake.
    newer = {
        "id": "FED-3",
        "title": "Heap overflow FED-3",
        "description": "parse_fed_3() trusts a length field; also in parse_tail().",
        "affected": [{"purl": "pkg:npm/framekit@1.0.0"}],
        "modified": "2026-06-01T12:00:00Z",  # after its publication at the peer
        "tlp": "GREEN",
    }
    imported = peer.platform.call(
        "agency",
        "POST",
        "/clearinghouse/imports",
        200,
        params={"format": "jsonl"},
        content=json.dumps(newer).encode(),
    )
    assert imported.json()["counts"]["updated"] == 1, imported.text
    peer.tick()
    before = len(peer.gate.object_pages)
    (again,) = pull(platform)
    asked = peer.gate.object_pages[before:]
    assert asked and all("added_after" in q for q in asked)
    assert again["state"] == "in_sync", again
    assert again["pulled"] == 1
    assert again["peer_side"] == again["our_side"] != result["our_side"]
    assert "parse_tail" in stored(platform, "FED-3")["description"]
    # Pulling again changes nothing and stays in sync.
    (third,) = pull(platform)
    assert third["state"] == "in_sync" and third["pulled"] == 0


def test_a_peer_dying_mid_pull_shows_a_partial_sync_and_the_next_pull_resumes(
    platform: Platform, peer: Peer
) -> None:
    for n in range(1, 11):
        peer.advisory(f"CUT-{n}")
    add_peer(platform, peer, Tlp.GREEN)
    peer.gate.dies_after = 2  # two pages of three, then the peer is gone
    (cut,) = pull(platform)
    assert cut["state"] == "partial"
    assert not cut["in_sync"]
    assert cut["pulled"] == 6
    assert cut["our_side"]["count"] == 6
    assert cut["peer_side"]["count"] is None  # its manifest could not be read either
    assert "failed after 2 tries" in cut["error"]
    with platform.context.sessions() as db:
        assert db.scalar(select(VulnReport.id).where(VulnReport.id == "CUT-7")) is None

    peer.gate.dies_after = None
    before = len(peer.gate.object_pages)
    (resumed,) = pull(platform)
    first = peer.gate.object_pages[before]
    assert first.get("next") == "6"  # it resumed where it stopped, not from the start
    assert resumed["state"] == "in_sync", resumed
    assert resumed["our_side"] == resumed["peer_side"]
    assert resumed["our_side"]["count"] == 10
    assert resumed["pulled"] == 10


def test_a_pulled_amber_object_keeps_its_label_and_its_need_to_know(
    platform: Platform, peer: Peer
) -> None:
    peer.advisory("AMB-1", tlp="AMBER")
    # Configured to land as CLEAR: the object's own AMBER marking wins, never loosened.
    add_peer(platform, peer, Tlp.AMBER, landing=Tlp.CLEAR)
    (result,) = pull(platform)
    assert result["state"] == "in_sync", result
    assert stored(platform, "AMB-1")["_tlp"] == "AMBER"
    platform.call("clearinghouse", "GET", "/clearinghouse/reports/AMB-1", 200)
    for outsider in ("other_partner", "other_developer", "agency"):
        platform.call(outsider, "GET", "/clearinghouse/reports/AMB-1", 404)


def test_only_the_clearinghouse_declares_peers(platform: Platform, peer: Peer) -> None:
    spec = PeerSpec("x", peer.api_root, peer.token, [collection_id(Tlp.GREEN)])
    with transaction(platform.context.sessions) as db, pytest.raises(Forbidden):
        federation.add_peer(
            db,
            _vault(platform),
            _actor(platform, "partner"),
            spec,
            platform.context.clock.now(),
        )
    bad = PeerSpec("x", "http://user:pw@127.0.0.1/taxii2/api/", "t", ["c"])
    with transaction(platform.context.sessions) as db, pytest.raises(federation.InvalidPeer):
        federation.add_peer(
            db, _vault(platform), _actor(platform), bad, platform.context.clock.now()
        )


# A peer that is not a prereview: any TAXII 2.1 server, here one that misbehaves in the ways
# federating clearinghouses see (the same object twice, a newer version later, an invalid one).
HOSTILE_TOKEN = "prv_hostile-peer-secret-0123456789"


def _vuln(n: int, modified: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "vulnerability",
        "spec_version": "2.1",
        "id": f"vulnerability--00000000-0000-4000-8000-{n:012d}",
        "created": "2026-01-01T00:00:00.000Z",
        "modified": modified,
        "name": f"CVE-2026-{8000 + n}",
        "description": f"Bug {n} in widget.",
        "external_references": [
            {"source_name": "cve", "external_id": f"CVE-2026-{8000 + n}"},
            {"source_name": "purl", "external_id": "pkg:pypi/widget@2.0"},
        ],
        **extra,
    }


def hostile_app(pages: list[list[dict[str, Any]]], manifest: list[dict[str, Any]]) -> ASGIApp:
    app = FastAPI()

    def authorised(request: Request) -> None:
        assert request.headers["authorization"] == f"Bearer {HOSTILE_TOKEN}"

    @app.get("/api/collections/{cid}/objects/")
    def objects(cid: str, request: Request) -> JSONResponse:
        authorised(request)
        at = int(request.query_params.get("next", "0"))
        more = at + 1 < len(pages)
        body: dict[str, Any] = {"more": more, "objects": pages[at]}
        if more:
            body["next"] = str(at + 1)
        headers = {"X-TAXII-Date-Added-Last": f"2026-02-0{at + 1}T00:00:00.000Z"}
        return JSONResponse(body, media_type=MEDIA, headers=headers)

    @app.get("/api/collections/{cid}/manifest/")
    def manifest_(cid: str, request: Request) -> JSONResponse:
        authorised(request)
        return JSONResponse({"more": False, "objects": manifest}, media_type=MEDIA)

    return app


def test_twice_sent_newer_and_invalid_objects_from_a_foreign_peer(
    platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    old, new = "2026-01-02T00:00:00.000Z", "2026-01-09T00:00:00.000Z"
    invalid = _vuln(
        3, old, external_references=[{"source_name": "cve", "external_id": "CVE-2026-8003"}]
    )
    pages = [
        [_vuln(1, old), _vuln(1, old), _vuln(2, old)],
        [invalid, _vuln(2, new), {"type": "indicator", "id": "indicator--1"}],
    ]
    manifest = [
        {"id": o["id"], "version": o["modified"], "date_added": "2026-02-01T00:00:00Z"}
        for o in [_vuln(1, old), _vuln(2, old), _vuln(2, new), invalid]
    ]
    caplog.set_level(logging.DEBUG)
    with serve(hostile_app(pages, manifest)) as url:
        spec = PeerSpec(
            "peer-ch", f"{url}/api", HOSTILE_TOKEN, ["c1"], tlp=Tlp.AMBER, allow_private=True
        )
        with transaction(platform.context.sessions) as db:
            federation.add_peer(
                db, _vault(platform), _actor(platform), spec, platform.context.clock.now()
            )
        (result,) = pull(platform)
    assert result["state"] == "differs"
    assert result["peer_side"]["count"] == 3 and result["our_side"]["count"] == 2
    differences = result["differences"]
    assert differences["version_mismatches"] == 0 and differences["not_at_peer"] == 0
    (missing,) = differences["missing_ids"]
    assert missing["id"] == invalid["id"]
    assert any("$.affected" in r["path"] for r in missing["reasons"]), missing  # why, by path
    assert stored(platform, "CVE-2026-8002")["modified"].startswith("2026-01-09")  # the newer one
    assert stored(platform, "CVE-2026-8001")["_tlp"] == "AMBER"
    with platform.context.sessions() as db:
        rows = {r.stix_id: r for r in db.scalars(select(FederationObject))}
    assert rows[_vuln(1, old)["id"]].status == "accepted"  # the second copy changed nothing
    assert rows[_vuln(2, old)["id"]].status == "updated"
    assert "indicator--1" not in rows

    # The credential is in no log line, no stored row (only sealed in the vault), no status.
    assert HOSTILE_TOKEN not in caplog.text
    assert HOSTILE_TOKEN not in json.dumps(result)
    with platform.context.sessions() as db:
        for table in (
            "ch_federation_peers",
            "ch_federation_syncs",
            "ch_federation_objects",
            "audit_entries",
            "vault_secrets",
        ):
            dump = json.dumps(
                [list(map(str, r)) for r in db.execute(text(f"SELECT * FROM {table}"))]
            )
            assert HOSTILE_TOKEN not in dump, table


def test_errors_about_an_unreachable_peer_do_not_carry_the_credential(platform: Platform) -> None:
    spec = PeerSpec("peer-ch", "http://127.0.0.1:9/api/", HOSTILE_TOKEN, ["c1"], allow_private=True)
    with transaction(platform.context.sessions) as db:
        federation.add_peer(
            db, _vault(platform), _actor(platform), spec, platform.context.clock.now()
        )
    (result,) = pull(platform)
    assert result["state"] == "partial"
    assert "ConnectError" in result["error"]
    assert HOSTILE_TOKEN not in json.dumps(result)


def test_the_command_line_adds_pulls_and_shows_a_peer(
    platform: Platform, peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from prereview.clearinghouse import federation_commands
    from prereview.cli import app as cli
    from support.factories.identity import operator_env

    monkeypatch.setattr(federation_commands, "SystemClock", lambda: platform.context.clock)

    peer.advisory("CLI-1")
    env = operator_env(platform) | {
        "PREREVIEW_TOKEN": platform["clearinghouse"].token,
        "PREREVIEW_FEDERATION_TOKEN": peer.token,
    }
    green = collection_id(Tlp.GREEN)
    runner = CliRunner()
    added = runner.invoke(
        cli,
        [
            "vuln",
            "federation",
            "add-peer",
            "peer-ch",
            peer.api_root,
            "--collection",
            green,
            "--private-network",
        ],
        env=env,
    )
    assert added.exit_code == 0, added.output
    pulled = runner.invoke(cli, ["vuln", "federation", "pull", "peer-ch", "--json"], env=env)
    assert pulled.exit_code == 0, pulled.output
    (shown,) = json.loads(
        runner.invoke(cli, ["vuln", "federation", "status", "--json"], env=env).output
    )
    assert shown["state"] == "in_sync" and shown["our_side"]["count"] == 1
    assert peer.token not in added.output + pulled.output
    # Someone who is not the clearinghouse is refused, and nothing is shown.
    refused = runner.invoke(
        cli,
        ["vuln", "federation", "status"],
        env=env | {"PREREVIEW_TOKEN": platform["partner"].token},
    )
    assert refused.exit_code == 1
    assert "peer-ch" not in refused.output
