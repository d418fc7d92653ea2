"""The audit log as C2SP tlog-tiles, checked by a client that knows nothing of prereview.

:class:`TileClient` below is written from the specifications alone (c2sp.org/tlog-tiles,
tlog-checkpoint, signed-note; RFC 6962 / 9162 hashing and proofs) on ``hashlib``, ``httpx`` and
``cryptography``; it imports nothing from ``prereview``. It fetches the checkpoint and tiles
from a real uvicorn server on loopback, checks the checkpoint's Ed25519 signature, computes
inclusion and consistency proofs from tiles only and verifies them against the signed root.
The platform's own code is used only to fill the log and to hand the client the log's public
key, as an operator would publish it.

Where a Go toolchain and Go's own tlog package (``golang.org/x/mod/sumdb/tlog`` and ``note``,
Debian's ``golang-go`` and ``golang-golang-x-mod-dev``, read offline in GOPATH mode) are
installed, :func:`test_gos_tlog_client_checks_proofs_from_tiles` also runs the Go checksum
database's client (``TileHashReader``, which checks every tile against the signed tree hash,
``ProveRecord``/``CheckRecord``, ``ProveTree``/``CheckTree``) against the server; elsewhere it
is skipped. No Python tlog-tiles client package exists to try.

Every database test runs on SQLite and on PostgreSQL (the ``db_url`` fixture).
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import FastAPI
from sqlalchemy import event, select

from prereview.audit import merkle, service, tiles
from prereview.audit.models import AuditEntry
from prereview.audit.signing import load_signer
from prereview.authz.actor import Actor
from prereview.authz.kinds import OrgKind, Role
from prereview.core.clock import FixedClock
from prereview.core.context import AppContext
from prereview.core.db import transaction
from support.live import serve

PROBLEM_JSON = "application/problem+json"
PREFIX = "/audit/log"

# --- An independent tlog-tiles client (hashlib, httpx, cryptography; nothing of prereview) ----


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """RFC 6962's k: the largest power of two smaller than n (n > 1)."""
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def _index_path(n: int) -> str:
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.insert(0, f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(groups)


class Checkpoint:
    """A verified checkpoint: origin, size and root."""

    def __init__(self, origin: str, size: int, root: bytes) -> None:
        self.origin, self.size, self.root = origin, size, root


def verify_note(text: str, verifier: str) -> Checkpoint:
    """Check a C2SP signed note's Ed25519 signature by ``verifier`` (``name+id+key``)."""
    name, key_id_hex, key_b64 = verifier.split("+", 2)
    key = base64.b64decode(key_b64)
    assert key[0] == 0x01, "not an Ed25519 verifier key"
    key_id = hashlib.sha256(name.encode() + b"\n" + key).digest()[:4]
    assert key_id.hex() == key_id_hex
    body, _, signatures = text.partition("\n\n")
    body += "\n"
    good = False
    for line in signatures.splitlines():
        signer, _, sig_b64 = line.removeprefix("\u2014 ").rpartition(" ")
        raw = base64.b64decode(sig_b64)
        if signer == name and raw[:4] == key_id:
            try:
                Ed25519PublicKey.from_public_bytes(key[1:]).verify(raw[4:], body.encode())
            except InvalidSignature:
                raise AssertionError("the checkpoint's signature does not verify") from None
            good = True
    assert good, "the checkpoint carries no signature of the pinned key"
    origin, size, root_b64 = body.splitlines()[:3]
    return Checkpoint(origin, int(size), base64.b64decode(root_b64))


class TileClient:
    """Computes any Merkle Tree Hash of a checkpointed tree from the log's tiles."""

    def __init__(self, http: httpx.Client, verifier: str) -> None:
        self.http = http
        self.verifier = verifier
        self.fetched: dict[str, bytes] = {}

    def checkpoint(self) -> Checkpoint:
        answer = self.http.get(f"{PREFIX}/checkpoint")
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "text/plain; charset=utf-8"
        return verify_note(answer.text, self.verifier)

    def tile(self, level: int, index: int, width: int) -> bytes:
        path = f"tile/{level}/{_index_path(index)}" + (f".p/{width}" if width < 256 else "")
        if path not in self.fetched:
            answer = self.http.get(f"{PREFIX}/{path}")
            assert answer.status_code == 200, (path, answer.text)
            assert answer.headers["content-type"] == "application/octet-stream"
            assert len(answer.content) == 32 * width, path
            self.fetched[path] = answer.content
        return self.fetched[path]

    def subtree(self, size: int, height: int, index: int) -> bytes:
        """MTH of leaves [index * 2**height, (index + 1) * 2**height) in the tree of ``size``."""
        level, below = divmod(height, 8)
        first = index << below  # the first hash, at tile level ``level``, of this subtree
        tile_index = first // 256
        hashes_at_level = size >> (8 * level)
        width = min(256, hashes_at_level - tile_index * 256)
        data = self.tile(level, tile_index, width)
        offset = first - tile_index * 256
        row = [data[32 * i : 32 * i + 32] for i in range(offset, offset + (1 << below))]
        while len(row) > 1:
            row = [_node(row[i], row[i + 1]) for i in range(0, len(row), 2)]
        return row[0]

    def mth(self, size: int, lo: int, hi: int) -> bytes:
        """RFC 6962 MTH(D[lo:hi]) by its recursive definition, perfect blocks read from tiles."""
        n = hi - lo
        if n == 0:
            return hashlib.sha256(b"").digest()
        if n & (n - 1) == 0 and lo % n == 0:
            return self.subtree(size, n.bit_length() - 1, lo // n)
        k = _split(n)
        return _node(self.mth(size, lo, lo + k), self.mth(size, lo + k, hi))

    def inclusion(self, size: int, m: int, lo: int = 0, hi: int | None = None) -> list[bytes]:
        """RFC 6962 PATH(m, D[lo:hi])."""
        hi = size if hi is None else hi
        if hi - lo <= 1:
            return []
        k = _split(hi - lo)
        if m < k:
            return [*self.inclusion(size, m, lo, lo + k), self.mth(size, lo + k, hi)]
        return [*self.inclusion(size, m - k, lo + k, hi), self.mth(size, lo, lo + k)]

    def consistency(self, old: int, size: int) -> list[bytes]:
        """RFC 6962 PROOF(old, D[0:size])."""

        def sub(m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
            n = hi - lo
            if m == n:
                return [] if whole else [self.mth(size, lo, hi)]
            k = _split(n)
            if m <= k:
                return [*sub(m, lo, lo + k, whole), self.mth(size, lo + k, hi)]
            return [*sub(m - k, lo + k, hi, False), self.mth(size, lo, lo + k)]

        return [] if old in (0, size) else sub(old, 0, size, True)


def check_inclusion(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> None:
    """RFC 9162 section 2.1.3.2."""
    assert index < size
    fn, sn, r = index, size - 1, leaf
    for p in path:
        assert sn != 0
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while fn != 0 and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    assert sn == 0 and r == root, f"inclusion of {index} in {size} does not verify"


def check_consistency(old: int, size: int, old_root: bytes, root: bytes, path: list[bytes]) -> None:
    """RFC 9162 section 2.1.4.2 (0 < old < size)."""
    assert path
    if old & (old - 1) == 0:
        path = [old_root, *path]
    fn, sn = old - 1, size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        assert sn != 0
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            while fn != 0 and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    assert sn == 0 and fr == old_root and sr == root, f"{old} -> {size} is not consistent"


# --- Filling the log --------------------------------------------------------------------------

ACTOR = Actor(
    "usr_00000000000000000000000001", "org_00000000000000000000000001", OrgKind.AGENCY, Role.MEMBER
)


def append(context: AppContext, count: int) -> None:
    """``count`` more entries, in transactions of at most 10,000, as the bulk path writes them."""
    at = context.clock.now()
    for start in range(0, count, 10_000):
        items = [
            service.NewEntry(ACTOR, "review:material:read", "material", f"mat_{i}", at)
            for i in range(start, min(count, start + 10_000))
        ]
        with transaction(context.sessions) as db:
            service.record_many(db, items)


def leaf_hashes(context: AppContext) -> list[bytes]:
    with context.sessions() as db:
        return list(db.scalars(select(AuditEntry.leaf_hash).order_by(AuditEntry.seq)))


@pytest.fixture
def live(app: FastAPI, context: AppContext) -> Iterator[TileClient]:
    """The app on a real loopback socket, and a tile client that pins the log's key."""
    verifier = str(load_signer(context.settings).verifier)
    with serve(app) as base, httpx.Client(base_url=base, timeout=30) as http:
        yield TileClient(http, verifier)


def advance(context: AppContext) -> None:
    """Let the public checkpoint be signed afresh (it is at most once per second)."""
    clock = context.clock
    assert isinstance(clock, FixedClock)
    clock.advance(tiles.CHECKPOINT_INTERVAL + timedelta(milliseconds=1))


# --- The path encoding and the tile arithmetic, by the specification's own examples ---------


def test_index_encoding_is_the_specifications() -> None:
    assert tiles.encode_index(1234067) == "x001/x234/067"
    assert tiles.encode_index(0) == "000"
    assert tiles.encode_index(5) == "005"
    assert tiles.encode_index(1000) == "x001/000"
    for n in (0, 7, 999, 1000, 1001, 999_999, 1_000_000, 1234067, 2**40 + 3):
        assert tiles.encode_index(n) == _index_path(n)
        assert tiles.parse_tile_path(f"3/{tiles.encode_index(n)}").index == n
    assert tiles.parse_tile_path("0/x001/x234/067.p/7") == tiles.Tile(0, 1234067, 7)
    assert tiles.Tile(2, 1234067, 7).path == "tile/2/x001/x234/067.p/7"


def test_a_tree_of_70000_has_the_tiles_the_specification_lists() -> None:
    found = tiles.tiles_of(70_000)
    full0 = [t for t in found if t.level == 0 and not t.partial]
    partial = {t.level: t.width for t in found if t.partial}
    assert len(full0) == 273
    assert [t for t in found if t.level == 1 and not t.partial] == [tiles.Tile(1, 0)]
    assert partial == {0: 112, 1: 17, 2: 1}
    assert tiles.tiles_of(256) == [tiles.Tile(0, 0), tiles.Tile(1, 0, 1)]
    assert tiles.tiles_of(0) == []


@pytest.mark.parametrize(
    "path",
    [
        "",
        "00/000",  # leading zero in L
        "64/000",  # L above 63
        "-1/000",
        "0",
        "0/",
        "0/00",
        "0/0000",
        "0/1",
        "0/x000/001",  # the same tile as 0/001, by a second name
        "0/001/002",  # an upper group without its x
        "0/x001",  # the last group with an x
        "0/000.p/0",
        "0/000.p/256",
        "0/000.p/01",
        "0/000.p/",
        "0/000.p",
        "0/000.q/5",
        "0/x001/x002/x003/x004/x005/x006/x007/000",  # more groups than any log needs
        "0/０００",  # noqa: RUF001 - full-width digits are not ASCII digits
    ],
)
def test_malformed_paths_are_400(path: str) -> None:
    with pytest.raises(tiles.TilePathMalformed):
        tiles.parse_tile_path(path)


def test_entry_bundles_are_withheld() -> None:
    for path in ("entries/000", "entries/000.p/5", "entries/x001/000", "entries"):
        with pytest.raises(tiles.EntryBundlesWithheld):
            tiles.parse_tile_path(path)


# --- Over HTTP, on SQLite and PostgreSQL ------------------------------------------------------


def test_proofs_from_tiles_verify_against_the_signed_checkpoint(
    live: TileClient, context: AppContext
) -> None:
    append(context, 256 * 5 + 3)  # level 0: five full tiles and a partial; level 1: partial
    checkpoint = live.checkpoint()
    size, root = checkpoint.size, checkpoint.root
    assert size == 1283
    assert checkpoint.origin == context.settings.audit_origin
    assert live.mth(size, 0, size) == root

    leaves = leaf_hashes(context)
    for m in (0, 1, 255, 256, 700, 1279, 1280, 1282):
        check_inclusion(leaves[m], m, size, live.inclusion(size, m), root)
    for old in (1, 2, 3, 255, 256, 257, 512, 1000, 1282):
        old_root = live.mth(size, 0, old)
        check_consistency(old, size, old_root, root, live.consistency(old, size))
    # The proofs came from tiles alone, and only from those a tree of this size has.
    assert set(live.fetched) <= {t.path for t in tiles.tiles_of(size)}

    # A tampered tile (or proof) is caught by the same checks.
    bad = [bytes(32), *live.inclusion(size, 700)[1:]]
    with pytest.raises(AssertionError):
        check_inclusion(leaves[700], 700, size, bad, root)


def test_tiles_hold_the_trees_hashes(live: TileClient, context: AppContext) -> None:
    """Up to a full level-1 tile and a partial level-2 tile: 65,536 + 300 entries."""
    append(context, 65_536 + 300)
    size = live.checkpoint().size
    leaves = leaf_hashes(context)
    store = merkle.MemoryNodeStore()
    tree = merkle.TreeAppender()
    for leaf in leaves:
        store.put(tree.append(leaf))
    wanted = tiles.tiles_of(size)
    assert {(t.level, t.partial) for t in wanted} == {
        (0, False),
        (0, True),
        (1, False),
        (1, True),
        (2, True),
    }
    for tile in wanted:
        if tile.level == 0 and 0 < tile.index < 255:
            continue  # the middle of level 0 is like its ends; keep the test quick
        got = live.http.get(f"{PREFIX}/{tile.path}").content
        expected = b"".join(store.node(tile.height, tile.first_node + i) for i in range(tile.width))
        assert got == expected, tile.path
    # Level-1 hashes are the roots of the full level-0 tiles below them.
    level1 = live.http.get(f"{PREFIX}/tile/1/000").content
    tile0 = live.http.get(f"{PREFIX}/tile/0/000").content
    row = [tile0[i : i + 32] for i in range(0, len(tile0), 32)]
    while len(row) > 1:
        row = [_node(row[i], row[i + 1]) for i in range(0, len(row), 2)]
    assert level1[:32] == row[0]
    assert live.mth(size, 0, size) == tree.root() == live.checkpoint().root


def test_answers_and_headers(live: TileClient, context: AppContext) -> None:
    append(context, 300)
    http = live.http
    checkpoint = http.get(f"{PREFIX}/checkpoint")
    assert checkpoint.headers["cache-control"] == "no-cache"
    assert checkpoint.headers["access-control-allow-origin"] == "*"

    full = http.get(f"{PREFIX}/tile/0/000")
    assert full.status_code == 200 and len(full.content) == 8192
    assert "immutable" in full.headers["cache-control"]
    partial = http.get(f"{PREFIX}/tile/0/001.p/44")
    assert partial.status_code == 200 and len(partial.content) == 44 * 32
    # A narrower partial tile is the prefix of the wider one and of the full one.
    assert http.get(f"{PREFIX}/tile/0/001.p/3").content == partial.content[: 3 * 32]
    assert http.get(f"{PREFIX}/tile/0/000.p/9").content == full.content[: 9 * 32]

    def refused(path: str, status: int, slug: str) -> httpx.Response:
        answer = http.get(f"{PREFIX}/{path}")
        assert answer.status_code == status, (path, answer.text)
        assert answer.headers["content-type"] == PROBLEM_JSON
        assert answer.json()["type"] == f"urn:prereview:problem:{slug}"
        return answer

    # Beyond the tree: a wider partial tile than the log has, a full tile not yet full, a
    # level or an index the tree has not reached.
    for path in (
        "tile/0/001.p/45",
        "tile/0/001",
        "tile/0/002.p/1",
        "tile/1/000",
        "tile/2/000.p/1",
        "tile/63/000.p/1",
        "tile/0/x999/x999/x999/x999/x999/999",
        "tile/7/x999/x999/x999/x999/x999/999",
    ):
        missing = refused(path, 404, "audit-tile-not-found")
        assert missing.headers["cache-control"] == "no-store"
    assert http.get(f"{PREFIX}/tile/1/000.p/1").status_code == 200
    for path in ("tile/0/1", "tile/00/000", "tile/0/000.p/256", "tile/0/x000/000", "tile/"):
        refused(path, 400, "audit-tile-path-malformed")
    entries = refused("tile/entries/000.p/44", 404, "audit-entries-confidential")
    assert "confidential" in entries.json()["detail"]
    refused("tile/entries/000", 404, "audit-entries-confidential")
    assert http.post(f"{PREFIX}/tile/0/000").status_code == 405


def test_a_tile_read_is_one_bounded_query(live: TileClient, context: AppContext) -> None:
    """At most 256 rows of one level, by the primary key: never the whole tree."""
    append(context, 256 * 3 + 10)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(context.engine, "before_cursor_execute", seen)
    try:
        assert len(live.http.get(f"{PREFIX}/tile/0/002").content) == 8192
    finally:
        event.remove(context.engine, "before_cursor_execute", seen)
    queries = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(queries) == 1, queries
    assert "audit_nodes" in queries[0] and "audit_entries" not in queries[0]
    assert "index" in queries[0] and ">=" in queries[0] and "<" in queries[0]


def test_growing_log_keeps_earlier_tiles_and_stays_consistent(
    live: TileClient, context: AppContext
) -> None:
    append(context, 200)
    first = live.checkpoint()
    assert first.size == 200
    early = live.http.get(f"{PREFIX}/tile/0/000.p/200").content
    assert live.mth(first.size, 0, first.size) == first.root

    append(context, 100)  # the partial tile of width 200 becomes the full tile 0
    # No new checkpoint within the signing interval: readers all see the same one.
    assert live.checkpoint().size == 200
    advance(context)
    second = live.checkpoint()
    assert second.size == 300
    full = live.http.get(f"{PREFIX}/tile/0/000").content
    assert full[: len(early)] == early
    assert live.http.get(f"{PREFIX}/tile/0/000.p/200").content == early  # still served

    fresh = TileClient(live.http, live.verifier)  # fetches everything anew at size 300
    check_consistency(first.size, second.size, first.root, second.root, fresh.consistency(200, 300))
    leaves = leaf_hashes(context)
    for m in (0, 199, 250, 299):
        check_inclusion(leaves[m], m, second.size, fresh.inclusion(second.size, m), second.root)


def test_concurrent_reads_during_appends_never_fail(live: TileClient, context: AppContext) -> None:
    """Three readers poll the checkpoint and its rightmost tiles while the log grows; each
    append waits until the readers have read again, so reads and appends interleave."""
    append(context, 10)
    base = str(live.http.base_url)
    stop = threading.Event()
    read = threading.Condition()
    statuses: list[int] = []
    sizes: set[int] = set()
    problems: list[str] = []

    def appender() -> None:
        try:
            for _ in range(12):
                with read:
                    wanted = len(statuses) + 12
                append(context, 97)
                advance(context)
                with read:
                    read.wait_for(lambda: len(statuses) >= wanted, timeout=30)  # noqa: B023
        finally:
            stop.set()

    def reader() -> None:
        with httpx.Client(base_url=base, timeout=30) as http:
            client = TileClient(http, live.verifier)
            while not stop.is_set():
                answer = http.get(f"{PREFIX}/checkpoint")
                got = [answer.status_code]
                if answer.status_code == 200:
                    checkpoint = verify_note(answer.text, live.verifier)
                    size = checkpoint.size
                    sizes.add(size)
                    got += [
                        http.get(f"{PREFIX}/{tile.path}").status_code
                        for tile in tiles.tiles_of(size)[-3:]
                    ]
                    client.fetched.clear()
                    if client.mth(size, 0, size) != checkpoint.root:
                        problems.append(f"tiles at size {size} do not give the signed root")
                with read:
                    statuses.extend(got)
                    read.notify_all()

    threads = [threading.Thread(target=appender)] + [
        threading.Thread(target=reader) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert statuses and all(s == 200 for s in statuses), sorted(set(statuses))
    assert not problems, problems
    assert len(sizes) > 6, sizes  # the readers saw the log grow, not one size
    assert live.checkpoint().size == 10 + 12 * 97


# --- Go's checksum-database client, where it is installed -------------------------------------

GOPATH = Path("/usr/share/gocode")
GO_CLIENT = r"""
package main

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var base string

type tiles struct{}

func (tiles) Height() int { return 8 }

func (tiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, t := range ts {
		// sumdb paths name the height (tile/8/L/N); C2SP tlog-tiles paths do not.
		path := strings.Replace(t.Path(), "tile/8/", "tile/", 1)
		resp, err := http.Get(base + "/audit/log/" + path)
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			return nil, fmt.Errorf("%s: %d %v", path, resp.StatusCode, err)
		}
		out[i] = data
	}
	return out, nil
}

func (tiles) SaveTiles([]tlog.Tile, [][]byte) {}

func fail(err error) {
	fmt.Println("FAIL", err)
	os.Exit(1)
}

func main() {
	base = os.Args[1]
	verifier, err := note.NewVerifier(os.Args[2])
	if err != nil {
		fail(err)
	}
	resp, err := http.Get(base + "/audit/log/checkpoint")
	if err != nil {
		fail(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	opened, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		fail(err)
	}
	lines := strings.Split(opened.Text, "\n")
	size, _ := strconv.ParseInt(lines[1], 10, 64)
	raw, _ := base64.StdEncoding.DecodeString(lines[2])
	var root tlog.Hash
	copy(root[:], raw)
	reader := tlog.TileHashReader(tlog.Tree{N: size, Hash: root}, tiles{})
	for _, arg := range os.Args[3:] {
		kind, rest, _ := strings.Cut(arg, ":")
		at, digest, _ := strings.Cut(rest, ":")
		n, _ := strconv.ParseInt(at, 10, 64)
		var h tlog.Hash
		b, _ := hex.DecodeString(digest)
		copy(h[:], b)
		if kind == "leaf" {
			proof, err := tlog.ProveRecord(size, n, reader)
			if err != nil {
				fail(err)
			}
			if err := tlog.CheckRecord(proof, size, root, n, h); err != nil {
				fail(err)
			}
		} else {
			proof, err := tlog.ProveTree(size, n, reader)
			if err != nil {
				fail(err)
			}
			if err := tlog.CheckTree(proof, size, root, n, h); err != nil {
				fail(err)
			}
		}
	}
	fmt.Println("OK", size)
}
"""


@pytest.fixture(scope="module")
def go_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Go's tlog client, built once, or a skip where Go or its tlog package is not installed."""
    go = shutil.which("go")
    if go is None or not (GOPATH / "src/golang.org/x/mod/sumdb/tlog").is_dir():
        pytest.skip("no Go toolchain with golang.org/x/mod/sumdb/tlog installed")
    folder = tmp_path_factory.mktemp("go-tlog")
    (folder / "main.go").write_text(GO_CLIENT)
    env = os.environ | {
        "GO111MODULE": "off",
        "GOPATH": str(GOPATH),
        "GOCACHE": str(folder / "cache"),
        "GOFLAGS": "",
    }
    subprocess.run(
        [go, "build", "-o", str(folder / "client"), str(folder / "main.go")],
        check=True,
        env=env,
        cwd=folder,
        timeout=600,
    )
    return folder / "client"


def test_gos_tlog_client_checks_proofs_from_tiles(
    go_client: Path, live: TileClient, context: AppContext
) -> None:
    append(context, 256 * 3 + 77)
    checkpoint = live.checkpoint()
    leaves = leaf_hashes(context)
    claims = [f"leaf:{m}:{leaves[m].hex()}" for m in (0, 255, 256, 700, len(leaves) - 1)]
    claims += [f"tree:{old}:{live.mth(checkpoint.size, 0, old).hex()}" for old in (1, 256, 300)]
    run = subprocess.run(
        [str(go_client), str(live.http.base_url).rstrip("/"), live.verifier, *claims],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0 and run.stdout.strip() == f"OK {checkpoint.size}", run.stdout

    # A wrong leaf hash is refused by Go's client too.
    wrong = [f"leaf:5:{bytes(32).hex()}"]
    bad = subprocess.run(
        [str(go_client), str(live.http.base_url).rstrip("/"), live.verifier, *wrong],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 1 and bad.stdout.startswith("FAIL"), bad.stdout
