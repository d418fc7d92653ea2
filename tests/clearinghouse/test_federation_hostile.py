"""TAXII federation against a hostile peer: a compromised or malicious clearinghouse.

Each test stands up a peer that misbehaves one way (stalls, redirects, lies, floods, claims
what is not its own) over a loopback socket and checks that the pull holds no database lock
while waiting, runs once at a time, connects only where it checked, and that nothing the peer
sends overwrites a local report or another peer's records, or leaks the peer's credential.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from prereview.authz.actor import Actor
from prereview.clearinghouse import federation, taxii_client
from prereview.clearinghouse.federation import PeerSpec
from prereview.clearinghouse.models import FederationObject, FederationPeer, VulnReport
from prereview.core.db import transaction
from prereview.core.markings import Tlp
from prereview.exchange.stix import TLP2_MARKING_IDS
from prereview.identity import service as identity
from prereview.vault.service import Vault
from support.factories import Platform
from support.live import serve

MEDIA = "application/taxii+json;version=2.1"
TOKEN = "prv_hostile-peer-secret-9876543210"
OLD, NEW = "2026-01-02T00:00:00.000Z", "2026-01-09T00:00:00.000Z"

Handler = Callable[[Request], Response]


def vuln(n: int, modified: str = OLD, **extra: Any) -> dict[str, Any]:
    return {
        "type": "vulnerability",
        "spec_version": "2.1",
        "id": f"vulnerability--00000000-0000-4000-8000-{n:012d}",
        "created": "2026-01-01T00:00:00.000Z",
        "modified": modified,
        "name": f"CVE-2026-{9000 + n}",
        "description": f"Bug {n} in gadget.",
        "external_references": [
            {"source_name": "cve", "external_id": f"CVE-2026-{9000 + n}"},
            {"source_name": "purl", "external_id": "pkg:pypi/gadget@1.0"},
        ],
        **extra,
    }


def taxii(body: Any, status: int = 200, **headers: str) -> Response:
    return JSONResponse(body, status_code=status, media_type=MEDIA, headers=headers)


def paged(pages: list[list[dict[str, Any]]]) -> Handler:
    """An objects endpoint serving ``pages`` in order, ``next`` being the page's index."""

    def answer(request: Request) -> Response:
        at = int(request.query_params.get("next", "0"))
        more = at + 1 < len(pages)
        body: dict[str, Any] = {"more": more, "objects": pages[at]}
        if more:
            body["next"] = str(at + 1)
        return taxii(body, **{"X-TAXII-Date-Added-Last": f"2026-02-0{at + 1}T00:00:00.000Z"})

    return answer


def manifest_of(objects: list[dict[str, Any]]) -> Handler:
    entries = [{"id": o["id"], "version": o["modified"]} for o in objects]
    return lambda request: taxii({"more": False, "objects": entries})


class HostilePeer:
    """A TAXII API root at ``/api/`` whose answers the test sets; it records what it was
    asked (path, query, Host and Authorization headers)."""

    def __init__(self, objects: Handler, manifest: Handler | None = None) -> None:
        self.objects = objects
        self.manifest = manifest or (lambda request: taxii({"more": False, "objects": []}))
        self.asked: list[dict[str, Any]] = []
        self.app = FastAPI()

        @self.app.get("/{rest:path}")
        def anything(rest: str, request: Request) -> Response:
            self.asked.append(
                {
                    "path": request.url.path,
                    "query": dict(request.query_params),
                    "host": request.headers.get("host"),
                    "authorization": request.headers.get("authorization"),
                }
            )
            if request.headers.get("authorization") != f"Bearer {TOKEN}":
                return taxii({"title": "unauthorised"}, 401)
            if rest.endswith("/manifest/"):
                return self.manifest(request)
            return self.objects(request)


@contextmanager
def hostile(objects: Handler, manifest: Handler | None = None) -> Iterator[tuple[HostilePeer, str]]:
    peer = HostilePeer(objects, manifest)
    with serve(peer.app) as url:
        yield peer, url


def _actor(platform: Platform) -> Actor:
    with transaction(platform.context.sessions) as db:
        return identity.authenticate(
            db, platform["clearinghouse"].token, platform.context.clock.now()
        )


def _vault(platform: Platform) -> Vault:
    settings = platform.context.settings
    return Vault.local(settings.master_key_file, settings.blob_dir)


def declare(
    platform: Platform,
    api_root: str,
    name: str = "evil",
    tlp: Tlp = Tlp.AMBER,
    allow_private: bool = True,
) -> None:
    spec = PeerSpec(name, api_root, TOKEN, ["c1"], tlp=tlp, allow_private=allow_private)
    with transaction(platform.context.sessions) as db:
        federation.add_peer(
            db, _vault(platform), _actor(platform), spec, platform.context.clock.now()
        )


def pull(platform: Platform, name: str = "evil", **options: Any) -> dict[str, Any]:
    options = {"page_size": 3, "backoff": 0.0, "retries": 2} | options
    with platform.context.sessions() as db:
        (found,) = federation.pull(
            db, _vault(platform), _actor(platform), name, platform.context.clock, **options
        )
    return found.summary()


def stored(platform: Platform, rid: str) -> dict[str, Any] | None:
    with platform.context.sessions() as db:
        row = db.scalar(select(VulnReport).where(VulnReport.id == rid))
        return None if row is None else dict(row.document) | {"_tlp": row.tlp}


def ledger(platform: Platform) -> dict[str, FederationObject]:
    with platform.context.sessions() as db:
        return {r.stix_id: r for r in db.scalars(select(FederationObject))}


def _write_now(platform: Platform) -> None:
    """Another writer commits on the same database, refusing to wait more than half a second
    for any lock: it fails if the pull holds a write lock (SQLite) or any lock on the tables
    it writes (PostgreSQL: even a read holds ACCESS SHARE until its transaction ends)."""
    url = platform.context.settings.database_url
    if url.startswith("sqlite"):
        connection = sqlite3.connect(url.split("///", 1)[1], timeout=0.5, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("UPDATE ch_federation_peers SET name = name")
            connection.execute("COMMIT")
        finally:
            connection.close()
        return
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        connection.execute("SET lock_timeout = '500ms'")
        connection.execute(
            "LOCK TABLE ch_federation_peers, ch_federation_syncs, ch_federation_objects, "
            "ch_reports IN ACCESS EXCLUSIVE MODE"
        )
        connection.execute("UPDATE ch_federation_peers SET name = name")
        connection.commit()


class Stall:
    """Holds a request until released, and says when one is being held."""

    def __init__(self) -> None:
        self.held = threading.Event()
        self.go = threading.Event()

    def wait(self) -> None:
        self.held.set()
        assert self.go.wait(20), "the test never released the stalled answer"


def test_no_lock_is_held_while_the_peer_stalls_and_a_second_pull_is_refused(
    platform: Platform,
) -> None:
    objects = [vuln(n) for n in range(1, 7)]
    page_stall, manifest_stall = Stall(), Stall()
    serve_pages = paged([objects[:3], objects[3:]])

    def stalling_objects(request: Request) -> Response:
        if request.query_params.get("next") == "1":
            page_stall.wait()  # the second page: the first one is stored by now
        return serve_pages(request)

    def stalling_manifest(request: Request) -> Response:
        manifest_stall.wait()
        return manifest_of(objects)(request)

    with hostile(stalling_objects, stalling_manifest) as (_, url):
        declare(platform, f"{url}/api/")
        outcome: dict[str, Any] = {}
        first = threading.Thread(target=lambda: outcome.update(pull(platform)))
        first.start()
        try:
            assert page_stall.held.wait(20)
            _write_now(platform)  # mid-pull, between pages
            # A second pull of the same peer (another process, or thread) is refused at once
            # and changes nothing of the first one's sync record.
            with pytest.raises(federation.PullInProgress):
                pull(platform)
            page_stall.go.set()
            assert manifest_stall.held.wait(20)
            _write_now(platform)  # while the sync is being checked
            manifest_stall.go.set()
        finally:
            page_stall.go.set()
            manifest_stall.go.set()
            first.join(30)
    assert outcome["state"] == "in_sync", outcome
    assert outcome["pulled"] == 6 and outcome["our_side"]["count"] == 6
    # The lease is given back: the next pull runs.
    with hostile(paged([objects[:3], objects[3:]]), manifest_of(objects)) as (_, url):
        with platform.context.sessions() as db:
            db.execute(update(FederationPeer).values(api_root=f"{url}/api/"))
            db.commit()
        assert pull(platform)["state"] == "in_sync"


def test_a_lease_left_by_a_dead_pull_expires_and_a_lost_lease_stops_the_pull(
    platform: Platform,
) -> None:
    objects = [vuln(n) for n in range(1, 7)]
    taken: list[bool] = []

    def objects_page(request: Request) -> Response:
        if request.query_params.get("next") == "1" and not taken:
            # Meanwhile, another pull took the peer (this one's lease had expired).
            with platform.context.sessions() as db:
                db.execute(update(FederationPeer).values(lease_holder="pull_other"))
                db.commit()
            taken.append(True)
        return paged([objects[:3], objects[3:]])(request)

    with hostile(objects_page, manifest_of(objects)) as (_, url):
        declare(platform, f"{url}/api/")
        with pytest.raises(federation.LeaseLost):
            pull(platform)
        assert len(ledger(platform)) == 3  # the second page was not stored
        # The other pull died holding the lease; once it expires, a pull runs again.
        with pytest.raises(federation.PullInProgress):
            pull(platform)
        with platform.context.sessions() as db:
            past = platform.context.clock.now() - timedelta(seconds=1)
            db.execute(update(FederationPeer).values(lease_until=past))
            db.commit()
        result = pull(platform)
    assert result["state"] == "in_sync", result
    assert result["our_side"]["count"] == 6


@pytest.mark.parametrize(
    ("api_root", "allow_private"),
    [
        ("http://peer.example.org/api/", False),  # plain http to a public host
        ("http://10.1.2.3/api/", True),  # plain http to a private, not loopback, address
        ("http://127.0.0.1:8000/api/", False),  # loopback without the operator's flag
        ("https://10.1.2.3/api/", False),  # a private address without the flag
        ("https://169.254.169.254/latest/", True),  # cloud metadata: never
        ("https://[fe80::1]/api/", True),  # link-local: never
        ("https://[::ffff:169.254.169.254]/api/", True),  # metadata, written as IPv6
        ("https://0.0.0.0/api/", True),
        ("https://peer.example.org:notaport/api/", False),
    ],
)
def test_a_peer_url_that_is_not_https_to_a_public_address_is_refused(
    platform: Platform, api_root: str, allow_private: bool
) -> None:
    with pytest.raises(federation.InvalidPeer) as refused:
        declare(platform, api_root, allow_private=allow_private)
    assert refused.value.extra["errors"][0]["path"] == "$.api_root"
    with platform.context.sessions() as db:
        assert db.scalar(select(FederationPeer.id)) is None


def test_a_private_peer_on_https_is_allowed_with_the_operators_flag(platform: Platform) -> None:
    declare(platform, "https://10.1.2.3/taxii2/api/", allow_private=True)


@pytest.mark.parametrize(
    ("answer", "allow_private"),
    [(["10.1.2.3"], False), (["93.184.216.34", "127.0.0.1"], False), (["169.254.169.254"], True)],
)
def test_a_name_resolving_to_a_refused_address_is_not_connected_to(
    platform: Platform, answer: list[str], allow_private: bool
) -> None:
    declare(platform, "https://taxii.peer.example/api/", allow_private=allow_private)
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return answer

    result = pull(platform, resolver=resolver)
    assert asked and set(asked) == {"taxii.peer.example"}
    assert result["state"] == "partial"
    assert "address is refused" in result["error"], result
    assert TOKEN not in json.dumps(result)


def test_the_connection_goes_to_the_address_that_was_checked(platform: Platform) -> None:
    objects = [vuln(1)]
    with hostile(paged([objects]), manifest_of(objects)) as (peer, url):
        port = url.rsplit(":", 1)[1]
        # A name that no DNS knows: reaching the peer at all shows that the pull connected
        # to the address it resolved and checked, and sent the name only as the Host header.
        declare(platform, f"http://clearinghouse.peer.test:{port}/api/", allow_private=True)
        result = pull(platform, resolver=lambda host, port: ["127.0.0.1"])
    assert result["state"] == "in_sync", result
    assert {a["host"] for a in peer.asked} == {f"clearinghouse.peer.test:{port}"}


def test_a_redirect_is_not_followed_and_the_token_goes_nowhere_else(
    platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    elsewhere = HostilePeer(paged([[vuln(1)]]))
    with serve(elsewhere.app) as other:

        def redirect(request: Request) -> Response:
            return Response(status_code=307, headers={"Location": f"{other}/steal/"})

        with hostile(redirect) as (_, url):
            declare(platform, f"{url}/api/")
            result = pull(platform)
    assert elsewhere.asked == []
    assert result["state"] == "partial"
    assert "redirect" in result["error"], result
    assert TOKEN not in json.dumps(result) and TOKEN not in caplog.text


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        # Deeper than json's recursion: this crashed the pull (RecursionError).
        (lambda r: Response(f'{{"objects": {_deep(100_000)}}}', media_type=MEDIA), "nests"),
        (lambda r: taxii({"objects": json.loads(_deep(60))}), "nests"),
        # Not TAXII: plain JSON, HTML.
        (lambda r: JSONResponse({"more": False, "objects": [vuln(1)]}), "not application"),
        (lambda r: Response("<html>hi</html>", media_type="text/html"), "not application"),
        # A paging token longer than can be stored to resume (a 500 on PostgreSQL).
        (
            lambda r: (
                taxii({"more": False, "objects": [vuln(1)]})
                if "next" in r.query_params
                else taxii({"more": True, "next": "n" * 5000, "objects": []})
            ),
            "not a short text",
        ),
        # A date header that is not a date (it crashed the pull: ValueError).
        (
            lambda r: taxii(
                {"more": False, "objects": [vuln(1)]}, **{"X-TAXII-Date-Added-Last": "soon"}
            ),
            "not a timestamp",
        ),
        # More objects than asked for: a peer floods intake one page at a time.
        (lambda r: taxii({"more": False, "objects": [vuln(n) for n in range(1, 9)]}), "more"),
    ],
    ids=["deep", "nested", "plain-json", "html", "long-next", "bad-date", "flood"],
)
def test_a_malformed_answer_leaves_a_partial_sync_and_stores_nothing(
    platform: Platform, answer: Handler, error: str
) -> None:
    with hostile(answer) as (_, url):
        declare(platform, f"{url}/api/")
        result = pull(platform)
    assert result["state"] == "partial", result
    assert error in result["error"], result
    assert not ledger(platform)
    assert stored(platform, "CVE-2026-9001") is None


def test_the_same_next_token_forever_ends_the_pull(platform: Platform) -> None:
    served: list[int] = []

    def forever(request: Request) -> Response:
        served.append(1)
        if len(served) > 30:  # the old client looped here for ever; stop the test peer
            return taxii({"more": False, "objects": []})
        return taxii({"more": True, "next": "again", "objects": [vuln(1)]})

    with hostile(forever) as (_, url):
        declare(platform, f"{url}/api/")
        result = pull(platform)
    assert len(served) <= 3, len(served)
    assert result["state"] == "partial"
    assert "sent before" in result["error"], result


def test_a_peer_cannot_overwrite_a_local_report_or_another_peers(platform: Platform) -> None:
    # A report of our own (imported here by the clearinghouse itself), and one that a first
    # peer brought.
    local = {
        "id": "CVE-2026-9001",
        "title": "Our own report",
        "description": "Found by the clearinghouse.",
        "affected": [{"purl": "pkg:pypi/gadget@1.0"}],
        "tlp": "AMBER",
        "modified": "2026-01-01T00:00:00Z",
    }
    platform.call(
        "clearinghouse",
        "POST",
        "/clearinghouse/imports",
        200,
        params={"format": "jsonl"},
        content=json.dumps(local).encode(),
    )
    first = [vuln(2)]
    with hostile(paged([first]), manifest_of(first)) as (_, url):
        declare(platform, f"{url}/api/", name="first")
        assert pull(platform, "first")["state"] == "in_sync"
    assert stored(platform, "CVE-2026-9002")["reporter"] == "first"  # type: ignore[index]

    # The second peer sends newer versions of both, and claims to be someone else.
    claims = {
        "created_by_ref": "identity--00000000-0000-4000-8000-000000000001",
        "x_prereview_reporter": "first",
        "description": "Replaced by the evil peer.",
    }
    evil = [vuln(1, NEW, **claims), vuln(2, NEW, **claims), vuln(3, NEW, **claims)]
    with hostile(paged([evil]), manifest_of(evil)) as (_, url):
        declare(platform, f"{url}/api/", name="evil")
        result = pull(platform)
    mine, theirs = stored(platform, "CVE-2026-9001"), stored(platform, "CVE-2026-9002")
    assert mine is not None and mine["description"] == "Found by the clearinghouse."
    assert theirs is not None and theirs["description"] == "Bug 2 in gadget."
    assert theirs["reporter"] == "first"
    # Its own new report lands under its name, whatever it claims.
    assert stored(platform, "CVE-2026-9003")["reporter"] == "evil"  # type: ignore[index]
    assert result["state"] == "differs"
    assert result["differences"]["missing"] == 2
    reasons = [r["message"] for m in result["differences"]["missing_ids"] for r in m["reasons"]]
    assert all("another source" in r for r in reasons), reasons
    # The first peer's ledger still names its report; the evil peer's names none of them.
    with platform.context.sessions() as db:
        named = {
            (peer, report)
            for peer, report in db.execute(
                select(FederationPeer.name, FederationObject.report_id).join(
                    FederationPeer, FederationPeer.id == FederationObject.peer_id
                )
            )
        }
    assert ("first", "CVE-2026-9002") in named
    assert ("evil", "CVE-2026-9001") not in named and ("evil", "CVE-2026-9002") not in named


def test_a_label_is_never_loosened_and_odd_markings_do_not_break_the_pull(
    platform: Platform,
) -> None:
    red, clear = TLP2_MARKING_IDS[Tlp.RED], TLP2_MARKING_IDS[Tlp.CLEAR]
    objects = [
        vuln(1, object_marking_refs=[red]),  # stricter than the peer's label: kept stricter
        vuln(2, object_marking_refs=[clear]),  # looser: the peer's label wins
        vuln(3, object_marking_refs=[["not", "a", "string"], {"x": 1}]),  # crashed the pull
        vuln(4, object_marking_refs=red),  # not a list
    ]
    with hostile(paged([objects[:3], objects[3:]]), manifest_of(objects)) as (_, url):
        declare(platform, f"{url}/api/", tlp=Tlp.AMBER)
        result = pull(platform)
    assert result["state"] == "in_sync", result
    labels = {n: stored(platform, f"CVE-2026-{9000 + n}")["_tlp"] for n in (1, 2, 3, 4)}  # type: ignore[index]
    assert labels == {1: "RED", 2: "AMBER", 3: "AMBER", 4: "AMBER"}


def test_a_lying_manifest_is_caught_by_the_digest_of_what_was_stored(
    platform: Platform,
) -> None:
    served = [vuln(1), vuln(2)]
    # The manifest claims a newer version of one object and an object it never served.
    claimed = [vuln(1, NEW), vuln(2), vuln(5)]
    with hostile(paged([served]), manifest_of(claimed)) as (_, url):
        declare(platform, f"{url}/api/")
        result = pull(platform)
    assert result["state"] == "differs"
    assert result["our_side"]["count"] == 2 and result["peer_side"]["count"] == 3
    assert result["our_side"]["digest"] != result["peer_side"]["digest"]
    differences = result["differences"]
    assert differences["version_mismatches"] == 1 and differences["missing"] == 1
    assert differences["version_mismatch_ids"][0]["ours"] == OLD


def test_overlong_or_malformed_ids_and_versions_are_refused_per_object(
    platform: Platform,
) -> None:
    long_id = vuln(1) | {"id": "vulnerability--" + "a" * 5000}
    bad_version = vuln(2, "next tuesday " * 10)
    good = vuln(3)
    with hostile(paged([[long_id, bad_version, good]]), manifest_of([good])) as (_, url):
        declare(platform, f"{url}/api/")
        result = pull(platform)
    assert result["state"] == "in_sync", result
    rows = ledger(platform)
    assert all(len(i) <= 200 and len(r.peer_version) <= 40 for i, r in rows.items())
    assert stored(platform, "CVE-2026-9001") is None
    assert rows[bad_version["id"]].status == "rejected"
    assert stored(platform, "CVE-2026-9003") is not None


def test_the_token_is_in_no_error_when_the_peer_refuses(platform: Platform) -> None:
    def refuse(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        return taxii({"title": f"bad token {auth}"}, 403, **{"WWW-Authenticate": auth})

    with hostile(refuse) as (_, url):
        declare(platform, f"{url}/api/")
        result = pull(platform)
    assert result["state"] == "partial" and "403" in result["error"]
    assert TOKEN not in json.dumps(result)


def test_huge_answers_are_refused_while_reading(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(taxii_client, "MAX_ANSWER_BYTES", 10_000)
    with hostile(lambda r: taxii({"objects": [], "padding": "x" * 20_000})) as (_, url):
        declare(platform, f"{url}/api/")
        result = pull(platform)
    assert result["state"] == "partial" and "over 10000 bytes" in result["error"]


def test_the_status_route_shows_each_peers_sync_to_the_clearinghouse_only(
    platform: Platform,
) -> None:
    served = [vuln(1), vuln(2)]
    with hostile(paged([served]), manifest_of([*served, vuln(3)])) as (_, url):
        declare(platform, f"{url}/api/")
        pull(platform)
    answer = platform.call("clearinghouse", "GET", "/clearinghouse/federation/peers", 200)
    (peer,) = answer.json()["peers"]
    assert peer["name"] == "evil" and peer["private_network"] is True
    assert peer["pulling"] is False
    (collection,) = peer["collections"]
    assert collection["collection"] == "c1"
    assert collection["state"] == "differs" and not collection["partial"]
    assert collection["our_side"]["count"] == 2 and collection["peer_side"]["count"] == 3
    assert collection["differences"]["missing"] == 1
    assert collection["last_pull"] is not None
    assert TOKEN not in answer.text
    for other in ("partner", "agency", "developer"):
        refused = platform.call(other, "GET", "/clearinghouse/federation/peers", 403)
        assert "evil" not in refused.text
    platform.call(None, "GET", "/clearinghouse/federation/peers", 401)


def _certificate(folder: Any, name: str) -> tuple[str, str]:
    """A self-signed certificate for ``name``: (certificate file, key file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "peer.pem", folder / "peer.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


def test_over_https_the_pinned_address_is_verified_against_the_peers_name(
    tmp_path: Any,
) -> None:
    """Connecting to the checked address keeps TLS honest: the certificate is verified for
    the peer's name (sent as SNI), and one for another name is refused."""
    import ssl

    import uvicorn

    from support.live import free_port

    cert, key = _certificate(tmp_path, "taxii.peer.test")
    peer = HostilePeer(paged([[vuln(1)]]))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            peer.app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            ssl_certfile=cert,
            ssl_keyfile=key,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.01)
        trust = ssl.create_default_context(cafile=cert)

        def client(name: str) -> taxii_client.TaxiiPeer:
            return taxii_client.TaxiiPeer(
                f"https://{name}:{port}/api/",
                TOKEN,
                allow_private=True,
                retries=1,
                resolver=lambda host, port: ["127.0.0.1"],
                verify=trust,
            )

        good = client("taxii.peer.test")
        body, _ = good.get("collections/c1/objects/", {})
        good.close()
        assert body["objects"][0]["id"] == vuln(1)["id"]
        assert peer.asked[0]["host"] == f"taxii.peer.test:{port}"
        wrong = client("other.peer.test")
        with pytest.raises(taxii_client.FederationError) as refused:
            wrong.get("collections/c1/objects/", {})
        wrong.close()
        assert "ConnectError" in refused.value.detail
        assert len(peer.asked) == 1  # the wrongly named connection sent nothing
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_no_lock_is_held_during_the_back_off_between_retries(platform: Platform) -> None:
    objects = [vuln(1)]
    failed = threading.Event()
    answers: list[int] = []

    def flaky(request: Request) -> Response:
        answers.append(1)
        if len(answers) == 1:
            failed.set()
            return taxii({"title": "busy"}, 503)  # retried after a back-off of 2 s
        return paged([objects])(request)

    with hostile(flaky, manifest_of(objects)) as (_, url):
        declare(platform, f"{url}/api/")
        outcome: dict[str, Any] = {}
        worker = threading.Thread(
            target=lambda: outcome.update(pull(platform, backoff=2.0, retries=3))
        )
        worker.start()
        try:
            assert failed.wait(20)
            _write_now(platform)  # the pull is asleep, waiting to retry
        finally:
            worker.join(30)
    assert outcome["state"] == "in_sync", outcome
    assert len(answers) == 2
