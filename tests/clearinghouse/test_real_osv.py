"""Real advisories (300 PyPA OSV records, ``tests/data/osv-pypa``) go in whole and stay right.

Attacks, each from an import of the real PyPA database: records of ``tensorflow-gpu`` and
``tensorflow-cpu`` were dropped as "duplicates" of the ``tensorflow`` record naming the same
CVE; a newer ``modified`` was answered "duplicate" and not applied; alias groups lost members
and a CVE id found nothing; one stray comma in an alias rejected a whole record; a GIT range
with a short hash was refused as "'introduced' is a required property"; ``withdrawn`` was lost;
public records were stored TLP:AMBER; a kill -9 during an import could leave half a report.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from typer.testing import CliRunner

from prereview.clearinghouse.intake.formats import IntakeFormat, ItemStatus, intake_bulk
from prereview.cli import app as cli
from prereview.core.clock import FixedClock
from prereview.core.settings import Settings
from prereview.exchange.validation import Standard, schema_problems
from support.factories import Platform
from support.factories.clearinghouse import count
from support.live import serve

from . import osv_pypa as source

SERVER = Path(__file__).with_name("import_server.py")
IMPORTER = "partner"
TABLES = ("ch_reports", "ch_identifiers", "ch_affected", "ch_relations", "ch_report_versions")


def _import(platform: Platform, payload: bytes) -> dict[str, Any]:
    answer = platform.call(
        IMPORTER,
        "POST",
        "/clearinghouse/imports",
        200,
        content=payload,
        params={"format": "osv"},
    )
    return dict(answer.json())


def _rows(platform: Platform) -> dict[str, int]:
    return {table: count(platform, table) for table in TABLES}


def _consistent(platform: Platform) -> set[str]:
    """The stored report ids, after checking that every row of every table belongs to a stored
    report and every stored report has all its rows (nothing half-written)."""
    with platform.context.sessions() as db:
        reports = set(db.scalars(text("SELECT id FROM ch_reports")))
        named = set(db.scalars(text("SELECT DISTINCT report_id FROM ch_identifiers")))
        affected = set(db.scalars(text("SELECT DISTINCT report_id FROM ch_affected")))
        sources = set(db.scalars(text("SELECT DISTINCT source FROM ch_relations")))
        audited = set(
            db.scalars(
                text(
                    "SELECT DISTINCT object_id FROM audit_entries "
                    "WHERE action = 'clearinghouse:report:import'"
                )
            )
        )
    assert named == reports and affected == reports and audited == reports
    assert sources <= reports
    with_aliases = {rid for rid in reports if source.aliases_of(source.records()[rid])}
    assert with_aliases <= sources
    return reports


def test_real_advisories_are_kept_distinct_updated_linked_and_reimported_idempotently(
    platform: Platform,
) -> None:
    valid = source.valid()
    history = source.history()
    older = [h for h in history if source.modified(h) < source.modified(valid[h["id"]])]
    newer = [h for h in history if h not in older]
    assert len(older) >= 10 and newer, "the shipped history has both kinds of earlier file"
    # What must be stored: of two versions, the one with the later 'modified', whichever came
    # first in git (two PyPA files were rewritten with an earlier 'modified' than they had).
    latest = valid | {h["id"]: h for h in newer}

    # The earlier versions first, as a mirror that started syncing long ago would have them.
    first = _import(platform, source.yaml_stream(source.history_files()))
    assert first["counts"]["accepted"] == len(history)

    payload = source.yaml_stream(source.current_files())
    result = _import(platform, payload)
    counts = result["counts"]
    # Every distinct record is a record: none is dropped for sharing a CVE with another.
    assert counts == {
        "accepted": len(valid) - len(history),
        "updated": len(older),
        "duplicate": len(newer),  # a file whose earlier version had the later 'modified'
        "rejected": len(source.records()) - len(valid),
        "skipped": 0,
    }
    stored = _consistent(platform)
    assert stored == set(valid)

    by_id = {item.get("id"): item for item in result["items"]}
    for rejected in (i for i in result["items"] if i["status"] == "rejected"):
        # The real fault and its path, not "'introduced' is a required property".
        (problem,) = rejected["errors"]
        assert problem["path"].endswith(".fixed"), problem
        assert "does not match" in problem["message"] and "introduced" not in problem["message"]
    keylime = by_id["PYSEC-2022-184"]
    assert keylime["status"] == "accepted"
    assert [w["message"] for w in keylime["warnings"]] == [
        "alias 'GHSA-jf66-3q76-h5p5,' is not a vulnerability id: kept as given, links nothing"
    ]

    # Each record retrievable, as its source wrote it; public data is TLP:CLEAR.
    for rid, record in latest.items():
        shown = platform.call(IMPORTER, "GET", f"/clearinghouse/reports/{rid}", 200).json()
        assert shown["tlp"] == "CLEAR"
        assert shown["aliases"] == source.aliases_of(record)
        assert (shown["withdrawn"] is not None) == ("withdrawn" in record)
        assert shown["modified"].replace("+00:00", "Z").startswith(record["modified"][:19])
    shown = platform.call(IMPORTER, "GET", "/clearinghouse/reports/PYSEC-2022-184", 200).json()
    assert shown["warnings"][0]["message"].startswith("alias 'GHSA-jf66-3q76-h5p5,'")

    # Updates applied, with every replaced version retrievable; older ones changed nothing.
    for earlier in older:
        versions = platform.call(
            IMPORTER, "GET", f"/clearinghouse/reports/{earlier['id']}/versions", 200
        ).json()
        (previous,) = versions["previous"]
        assert previous["document"]["modified"] == earlier["modified"]
        assert previous["document"].get("withdrawn") == earlier.get("withdrawn")
    for later in newer:
        versions = platform.call(
            IMPORTER, "GET", f"/clearinghouse/reports/{later['id']}/versions", 200
        ).json()
        assert versions["previous"] == []
        shown = platform.call(IMPORTER, "GET", f"/clearinghouse/reports/{later['id']}", 200)
        assert shown.json()["modified"].startswith(later["modified"][:19])

    # Alias groups equal the source's, for every record and every alias; a CVE id finds every
    # record naming it (the tensorflow family: three records, one CVE).
    groups = source.expected_groups(latest)
    for rid in latest:
        relations = platform.call(
            IMPORTER, "GET", f"/clearinghouse/reports/{rid}/relations", 200
        ).json()
        assert set(relations["aliases"]) == groups[rid] - {rid}, rid
    family = 0
    for name, group in groups.items():
        if not name.startswith("CVE-"):
            continue
        found = platform.call(
            IMPORTER, "GET", "/clearinghouse/reports", 200, params={"alias": name, "limit": 200}
        ).json()
        named = {rid for rid in latest if name in source.aliases_of(latest[rid])}
        assert {item["id"] for item in found["items"]} == named == group & set(latest)
        packages = {item["affected"][0]["purl"] for item in found["items"]}
        family += {"pkg:pypi/tensorflow", "pkg:pypi/tensorflow-gpu"} <= packages
    assert family >= 40

    # Re-importing changes nothing at all.
    before = _rows(platform)
    again = _import(platform, payload)["counts"]
    assert again == {
        "accepted": 0,
        "updated": 0,
        "duplicate": len(valid),
        "rejected": len(source.records()) - len(valid),
        "skipped": 0,
    }
    assert _rows(platform) == before
    assert _import(platform, source.yaml_stream(source.history_files()))["counts"]["updated"] == 0
    assert _rows(platform) == before


def test_a_withdrawn_advisory_comes_back_withdrawn_in_osv_and_cve_exports(
    platform: Platform,
) -> None:
    withdrawn = [doc for doc in source.valid().values() if doc.get("withdrawn")]
    assert len(withdrawn) >= 5
    paths = [p for p in source.current_files() if p.stem in {d["id"] for d in withdrawn}]
    _import(platform, source.yaml_stream(paths))
    for record in withdrawn:
        rid = record["id"]
        platform.call("clearinghouse", "POST", f"/clearinghouse/reports/{rid}/publish", 200)
        base = f"/clearinghouse/advisories/{rid}"
        osv = platform.call(IMPORTER, "GET", f"{base}.osv.json", 200).json()
        assert osv["withdrawn"].startswith(record["withdrawn"][:19])
        assert schema_problems(osv, Standard.OSV) == []
        cve = platform.call(IMPORTER, "GET", f"{base}.cve.json", 200).json()
        assert cve["cveMetadata"]["state"] == "REJECTED"
        assert cve["cveMetadata"]["dateRejected"].startswith(record["withdrawn"][:19])
        assert "Withdrawn" in cve["containers"]["cna"]["rejectedReasons"][0]["value"]
        assert schema_problems(cve, Standard.CVE5) == []


def test_a_record_that_shares_only_a_cve_is_never_a_duplicate_in_bulk() -> None:
    """The parsing step alone, no store: the tensorflow family of one CVE, three records."""
    family = [p for p in source.current_files() if p.parent.name.startswith("tensorflow")]
    result = intake_bulk(source.yaml_stream(family), "PyPA", IntakeFormat.OSV)
    assert {i.status for i in result.items} == {ItemStatus.ACCEPTED}
    assert len(result.accepted) == len(family) >= 120


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    with serve(app) as url:
        yield url


def test_prereview_vuln_import_keeps_every_record_and_reimports_as_no_op(
    platform: Platform, server: str
) -> None:
    env = {"PREREVIEW_SERVER": server, "PREREVIEW_TOKEN": platform[IMPORTER].token}

    def run(code: int) -> dict[str, int]:
        result = CliRunner().invoke(
            cli, ["vuln", "import", str(source.DATA / "vulns"), "--json"], env=env
        )
        assert result.exit_code == code, result.output
        return dict(json.loads(result.stdout)["counts"])

    valid = source.valid()
    rejected = len(source.records()) - len(valid)
    # Exit 1: the seven invalid records are reported as rejected, each with its fault.
    assert run(1) == {
        "accepted": len(valid),
        "updated": 0,
        "duplicate": 0,
        "rejected": rejected,
        "skipped": 0,
    }
    assert _consistent(platform) == set(valid)
    assert run(1)["duplicate"] == len(valid)
    assert count(platform, "ch_reports") == len(valid)


def _start(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, str(SERVER)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    port = process.stdout.readline().strip()
    assert port.isdigit(), "the server process did not start"
    return process, f"http://127.0.0.1:{port}"


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_kill_9_during_a_bulk_import_leaves_nothing_half_written(
    platform: Platform, settings: Settings, clock: FixedClock
) -> None:
    """A real server process on a temporary SQLite database, SIGKILLed between the chunks of
    an import (5 reports per transaction): what it committed is whole, the rest is absent,
    and the re-import after a restart completes the import."""
    env = os.environ | {
        "PREREVIEW_DATABASE_URL": settings.database_url,
        "PREREVIEW_MASTER_KEY_FILE": str(settings.master_key_file),
        "PREREVIEW_BLOB_DIR": str(settings.blob_dir),
        "PREREVIEW_AUDIT_KEY_FILE": str(settings.audit_key_file),
        "CH_TEST_NOW": clock.now().isoformat(),
        "CH_TEST_CHUNK": "5",
    }
    payload = source.yaml_stream(source.current_files())
    valid = source.valid()
    headers = platform[IMPORTER].headers
    process, url = _start(env)
    errors: list[BaseException] = []

    def post() -> None:
        try:
            httpx.post(
                f"{url}/api/v1/clearinghouse/imports",
                content=payload,
                params={"format": "osv"},
                headers=headers,
                timeout=120,
            )
        except httpx.HTTPError as exc:  # the server is killed under it: expected
            errors.append(exc)

    sender = threading.Thread(target=post)
    sender.start()
    try:
        with platform.context.sessions() as db:
            while process.poll() is None:
                stored = db.scalar(select(text("count(*)")).select_from(text("ch_reports")))
                db.rollback()
                if stored:
                    break
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        sender.join(timeout=120)
    stored_ids = _consistent(platform)
    assert 0 < len(stored_ids) < len(valid), "the kill fell between chunks of the import"
    assert errors, "the import was cut off by the kill"

    process, url = _start(env)
    try:
        answer = httpx.post(
            f"{url}/api/v1/clearinghouse/imports",
            content=payload,
            params={"format": "osv"},
            headers=headers,
            timeout=120,
        )
    finally:
        process.terminate()
        process.wait()
    assert answer.status_code == 200
    counts = answer.json()["counts"]
    assert counts["accepted"] == len(valid) - len(stored_ids)
    assert counts["duplicate"] == len(stored_ids)
    assert _consistent(platform) == set(valid)
