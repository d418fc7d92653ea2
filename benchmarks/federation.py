"""TAXII 2.1 federation throughput: one clearinghouse pulls another's collection.

Two platforms on this machine, each with its own SQLite database and keys. The peer gets
``--objects`` published TLP:GREEN advisories (imported through bulk intake and published by
its clearinghouse); it is served by uvicorn on a loopback socket. The other declares it as a
peer and pulls the collection (:func:`prereview.clearinghouse.federation.pull`): TAXII pages of
``--page`` objects, each through intake (validation, duplicates, audit), then the check of
both sides from the peer's manifest. Setting up the peer is not timed.

Prints one JSON line: bench ("federation"), objects, page, pull_s (the pull and its check,
wall clock), objects_per_s (objects pulled per second of it), state (``in_sync`` expected),
and both sides' counts.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn

from prereview.api import create_app
from prereview.authz.kinds import OrgKind
from prereview.clearinghouse import federation, service
from prereview.clearinghouse.federation import PeerSpec
from prereview.clearinghouse.intake.formats import IntakeFormat
from prereview.clearinghouse.taxii import COLLECTIONS
from prereview.core.clock import FixedClock
from prereview.core.context import AppContext
from prereview.core.db import transaction
from prereview.core.markings import Tlp
from prereview.core.migrate import upgrade
from prereview.core.settings import Settings
from prereview.identity import service as identity
from prereview.identity.schemas import OrganisationCreate, UserCreate
from prereview.vault.service import Vault

START = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def _platform(folder: Path) -> tuple[AppContext, Vault, str]:
    """A migrated platform with a clearinghouse organisation; its context, vault and token."""
    folder.mkdir()
    url = f"sqlite:///{folder / 'prereview.db'}"
    upgrade(url)
    settings = Settings(
        database_url=url,
        master_key_file=folder / "master.keys",
        audit_key_file=folder / "audit.key",
        attestation_key_file=folder / "attestation.key",
        blob_dir=folder / "blobs",
    )
    context = AppContext.create(settings, FixedClock(START))
    with transaction(context.sessions) as db:
        _, _, issued = identity.bootstrap(
            db,
            OrganisationCreate(name="Clearinghouse", kind=OrgKind.CLEARINGHOUSE),
            UserCreate(email="ops@clearinghouse.org", name="Ops"),
            START,
            timedelta(days=30),
        )
    return context, Vault.local(settings.master_key_file, settings.blob_dir), issued.plaintext


def _reports(count: int) -> bytes:
    lines = []
    for n in range(count):
        lines.append(
            json.dumps(
                {
                    "id": f"FED-{n:06d}",
                    "title": f"Heap overflow in parser {n}",
                    "description": f"parse_{n}() trusts a length field from the wire.",
                    "affected": [{"purl": f"pkg:npm/framekit-{n % 97}@1.{n % 13}.0"}],
                    "cwes": ["CWE-122"],
                    "cvss_v3": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                    "aliases": [f"CVE-2026-{10000 + n}"],
                    "tlp": "GREEN",
                    "modified": "2026-05-01T00:00:00Z",
                }
            )
        )
    return "\n".join(lines).encode()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=5000)
    parser.add_argument("--page", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prereview-federation-") as tmp:
        peer, peer_vault, peer_token = _platform(Path(tmp) / "peer")
        with peer.sessions() as db:
            actor = identity.authenticate(db, peer_token, START)
            service.import_reports(
                db,
                peer_vault,
                actor,
                _reports(args.objects),
                START,
                intake_format=IntakeFormat.JSON_LINES,
            )
            for n in range(args.objects):
                service.publish_report(db, actor, f"FED-{n:06d}", START + timedelta(minutes=1))
        assert isinstance(peer.clock, FixedClock)
        peer.clock.set(START + timedelta(hours=1))
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(context=peer),
                host="127.0.0.1",
                port=port,
                log_level="warning",
                lifespan="off",
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        try:
            local, vault, token = _platform(Path(tmp) / "local")
            (green,) = [c.id for c in COLLECTIONS.values() if c.tlp is Tlp.GREEN]
            with local.sessions() as db:
                me = identity.authenticate(db, token, START)
                spec = PeerSpec(
                    "peer",
                    f"http://127.0.0.1:{port}/taxii2/api/",
                    peer_token,
                    [green],
                    allow_private=True,  # the peer is on loopback, over plain http
                )
                federation.add_peer(db, vault, me, spec, START)
                began = time.perf_counter()
                (result,) = federation.pull(db, vault, me, "peer", local.clock, page_size=args.page)
                elapsed = time.perf_counter() - began
        finally:
            server.should_exit = True
            thread.join(timeout=10)
    summary: dict[str, Any] = result.summary()
    print(
        json.dumps(
            {
                "bench": "federation",
                "db": "sqlite",
                "objects": args.objects,
                "page": args.page,
                "pull_s": round(elapsed, 2),
                "objects_per_s": round(summary["pulled"] / elapsed, 1),
                "state": summary["state"],
                "peer_count": summary["peer_side"]["count"],
                "our_count": summary["our_side"]["count"],
            }
        )
    )
    if summary["state"] != "in_sync":
        sys.exit(1)


if __name__ == "__main__":
    main()
