"""The clearinghouse's federation page: each peer and where each collection stands, the same
data and the same refusals as ``GET /api/v1/clearinghouse/federation/peers``, and nothing of a
peer's credential."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from prereview.authz.actor import Actor
from prereview.clearinghouse import federation
from prereview.clearinghouse.federation import PeerSpec, compare, sync_digest
from prereview.clearinghouse.models import FederationPeer, FederationSync
from prereview.core.db import transaction
from prereview.core.markings import Tlp
from prereview.identity import service as identity
from prereview.vault.service import Vault
from support.factories import Platform

SITE = {"origin": "http://testserver"}
PAGE = "/web/clearinghouse/federation"
API = "/clearinghouse/federation/peers"
TOKEN = "fed-token-3f9c1d7e-never-shown"
NAME = "peer <b>one</b>"
ID_A = "vulnerability--00000000-0000-4000-8000-00000000000a"
ID_B = "vulnerability--00000000-0000-4000-8000-00000000000b"
ID_C = "vulnerability--00000000-0000-4000-8000-00000000000c"
V1, V2 = "2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z"


def sign_in(platform: Platform, who: str) -> None:
    platform.client.cookies.clear()
    platform.client.headers.update(SITE)
    response = platform.client.post(
        "/web/login", data={"token": platform[who].token}, follow_redirects=False
    )
    assert response.status_code == 303


def _actor(platform: Platform) -> Actor:
    with transaction(platform.context.sessions) as db:
        return identity.authenticate(
            db, platform["clearinghouse"].token, platform.context.clock.now()
        )


def declare(platform: Platform) -> str:
    """A peer with two collections: one that differs (two ids missing here, one version
    behind), one whose last pull stopped with an error; a pull of it is running."""
    settings = platform.context.settings
    vault = Vault.local(settings.master_key_file, settings.blob_dir)
    now = platform.context.clock.now()
    spec = PeerSpec(
        name=NAME,
        api_root="https://peer.example/taxii2/api/",
        token=TOKEN,
        collections=["col-differs", "col-partial", "col-new"],
        tlp=Tlp.GREEN,
        allow_private=True,
    )
    with transaction(platform.context.sessions) as db:
        peer_id = federation.add_peer(db, vault, _actor(platform), spec, now)
    theirs = {ID_A: V2, ID_B: V1, ID_C: V1}
    ours = {ID_A: V1}
    with transaction(platform.context.sessions) as db:
        db.add(
            FederationSync(
                peer_id=peer_id,
                collection_id="col-differs",
                state=federation.DIFFERS,
                pulled=7,
                peer_count=len(theirs),
                peer_digest=sync_digest(theirs.items()),
                our_count=len(ours),
                our_digest=sync_digest(ours.items()),
                differences=compare(theirs, ours, {}),
                started_at=now,
                finished_at=now,
            )
        )
        db.add(
            FederationSync(
                peer_id=peer_id,
                collection_id="col-partial",
                state=federation.PARTIAL,
                pulled=2,
                error="GET collections/col-partial/objects/: the peer answered 503 <later>",
                differences={},
                started_at=now,
                finished_at=now - timedelta(hours=1),
            )
        )
        peer = db.get(FederationPeer, peer_id)
        assert peer is not None
        peer.lease_holder, peer.lease_until = "pull_x", now + timedelta(minutes=5)
    return peer_id


def _row(text: str, collection: str) -> str:
    found = re.search(rf'<tr data-collection="{collection}">(.*?)</tr>', text, re.S)
    assert found, collection
    return found.group(1)


def test_the_page_shows_each_peer_and_collection_as_the_api_does(platform: Platform) -> None:
    declare(platform)
    api = platform.call("clearinghouse", "GET", API, 200).json()
    sign_in(platform, "clearinghouse")
    response = platform.client.get(PAGE)
    assert response.status_code == 200, response.text
    text = response.text
    assert '<a href="/web/clearinghouse/federation">Federation</a>' in text  # in the nav
    (peer,) = api["peers"]
    # The name is escaped: a peer's name is text, not markup.
    assert html.escape(NAME) in text and NAME not in text
    assert peer["api_root"] in text and f"TLP:{peer['tlp']}" in text
    assert "private and loopback addresses allowed" in text and peer["private_network"]
    assert "running now" in text and peer["pulling"]
    for collection in peer["collections"]:
        row = _row(text, collection["collection"])
        for side, cls in (("peer_side", "peer-side"), ("our_side", "our-side")):
            shown = re.search(rf'<td class="{cls}">(.*?)</td>', row, re.S)
            assert shown, (collection["collection"], side)
            count, digest = collection[side]["count"], collection[side]["digest"]
            assert f"{count if count is not None else '?'} objects" in shown.group(1)
            if digest is None:
                assert "none" in shown.group(1)
            else:
                # Shortened, the full value in the title attribute.
                assert f'<code title="{digest}">{digest[:19]}…</code>' in shown.group(1)
                assert f">{digest}<" not in shown.group(1)
        if collection["error"]:
            assert html.escape(collection["error"]) in row
    differs = _row(text, "col-differs")
    assert "differs" in differs and "7 objects read" in differs
    assert "2 missing here" in differs and "1 other version here" in differs
    assert ID_B in differs and ID_C in differs and "not pulled yet" in differs
    partial = _row(text, "col-partial")
    assert "partial" in partial and "503 &lt;later&gt;" in partial
    assert "never pulled" in _row(text, "col-new")
    assert TOKEN not in text and TOKEN not in str(api)


def test_others_get_the_apis_refusal_and_learn_nothing(platform: Platform) -> None:
    declare(platform)
    for who in ("developer", "agency", "partner"):
        api = platform.call(who, "GET", API)
        sign_in(platform, who)
        response = platform.client.get(PAGE)
        assert response.status_code == api.status_code == 403, who
        assert "peer.example" not in response.text and "col-differs" not in response.text
        assert 'href="/web/clearinghouse/federation"' not in response.text  # not in their nav
    platform.client.cookies.clear()
    anonymous = platform.client.get(PAGE, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/web/login"


def test_with_no_peer_the_page_says_how_to_declare_one(platform: Platform) -> None:
    sign_in(platform, "clearinghouse")
    response = platform.client.get(PAGE)
    assert response.status_code == 200
    assert 'id="empty"' in response.text and "prereview vuln federation add-peer" in response.text
