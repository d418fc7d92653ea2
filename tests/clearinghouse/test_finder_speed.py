"""The duplicate finder's fast paths give what the slow ones gave, and the index's catch-up
reads back only what it has not seen. Figures: ``benchmarks/ingest_real.py``."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from datasketch import MinHashLSH  # type: ignore[import-untyped]
from fastapi.testclient import TestClient
from sqlalchemy import event

from prereview.clearinghouse.dedup import finder as finder_module
from prereview.clearinghouse.dedup.finder import DuplicateFinder, extract_code_locations
from prereview.clearinghouse.dedup.index import DuplicateIndex, index_for
from prereview.exchange.osv import load_osv
from prereview.vulnerability.report import Report
from support.factories import Platform

DATA = Path(__file__).resolve().parents[1] / "data" / "osv-pypa" / "vulns"


@pytest.fixture(scope="module")
def reports() -> list[Report]:
    found: list[Report] = []
    for path in sorted(DATA.rglob("*.yaml")):
        try:
            found += load_osv(path.read_bytes(), "PyPA")
        except Exception:
            continue
    assert len(found) > 250
    return found


def test_the_band_index_collides_exactly_as_datasketch_lsh(reports: list[Report]) -> None:
    # The same sketches in datasketch's MinHashLSH and in the finder's own bands: every
    # query finds the same reports, before and after removals.
    finder = DuplicateFinder()
    bands, rows = finder.config.lsh_params()
    reference = MinHashLSH(num_perm=finder.config.num_perm, params=(bands, rows))
    ours = finder_module._Bands(bands)
    entries = {}
    for report in reports:
        entry = finder._entry(
            finder_module.report_text(report), ["all"], report.cwes, report.code_locations, None
        )
        entries[report.id] = entry
        reference.insert(report.id, entry.minhash)
        ours.insert(report.id, entry.bands)
    rng = random.Random(7)
    for key in rng.sample(sorted(entries), 80):
        reference.remove(key)
        ours.remove(key, entries[key].bands)
    collided = 0
    for key, entry in entries.items():
        found: set[str] = set()
        ours.collect(entry.bands, found)
        assert found == set(reference.query(entry.minhash)), key
        collided += len(found) > 1
    assert collided > 20  # templated advisories collide: the comparison is not vacuous


def test_code_locations_of_repeated_and_long_tokens() -> None:
    long_name = "x" * 200 + "_handler()"
    text = f"parse_header() in src/http.c, again parse_header() and http.c; {long_name} Node.js"
    for _ in range(2):  # the second time from the token cache
        found = extract_code_locations(text, ["lib/a.py:Frame::grow"])
        assert found.files == {"http.c", "a.py"}
        assert found.functions == {
            "parse_header",
            "frame::grow",
            "grow",
            long_name.removesuffix("()"),
        }
    assert extract_code_locations("src/HTTP.C and a/b/Parser.java").files == {
        "http.c",
        "parser.java",
    }


def test_catch_up_reads_documents_only_of_reports_it_has_not_seen(
    platform: Platform, client: TestClient
) -> None:
    payload = b"".join(p.read_bytes() + b"\n---\n" for p in sorted(DATA.rglob("*.yaml"))[:40])
    answer = client.post(
        "/api/v1/clearinghouse/imports",
        params={"format": "osv"},
        content=payload,
        headers=platform["clearinghouse"].headers,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["counts"]["accepted"] > 30
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    with platform.context.sessions() as db:
        own = index_for(db)
        bind = db.get_bind()
        event.listen(bind, "before_cursor_execute", seen)
        try:
            # The process that stored them reads no document back to catch up.
            assert own.catch_up(db) == 0
            assert statements, "the catch-up looked for newer reports"
            assert not any("document" in s for s in statements), statements
            # Another process (a fresh index) indexes every stored report, documents and all.
            other = DuplicateIndex()
            assert other.catch_up(db) == len(own.finder) > 30
            assert any("document" in s for s in statements)
            assert other.high_water == own.high_water
            assert other.catch_up(db) == 0
        finally:
            event.remove(bind, "before_cursor_execute", seen)
