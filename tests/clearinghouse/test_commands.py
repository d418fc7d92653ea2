"""`prereview vuln ...` (import, list, show, claims, duplicates, case, publish, export) against
a real server over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from prereview.cli import app as cli
from prereview.exchange.validation import Standard, schema_problems
from support.factories import Platform
from support.factories.clearinghouse import V31, V40, report
from support.live import serve


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    with serve(app) as url:
        yield url


def run(server: str, token: str, *args: str, code: int = 0) -> str:
    env = {"PREREVIEW_SERVER": server, "PREREVIEW_TOKEN": token, "COLUMNS": "200"}
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == code, (args, result.output)
    return result.stdout


def test_import_a_folder_then_list_and_show(
    platform: Platform, server: str, tmp_path: Path
) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    lines = [json.dumps(report(f"CLI-{n}", cvss_v3=V31, cvss_v4=V40)) for n in range(7)]
    (folder / "batch.jsonl").write_text("\n".join(lines) + "\n")
    seeds = resources.files("prereview.clearinghouse.data").joinpath("seed_advisories.yaml")
    (folder / "seeds.yaml").write_bytes(seeds.read_bytes())
    (folder / "notes.txt").write_text("not a report")
    token = platform["clearinghouse"].token
    out = json.loads(
        run(server, token, "vuln", "import", str(folder), "--batch-lines", "3", "--json")
    )
    assert out["counts"]["accepted"] >= 7 and out["counts"]["rejected"] == 0
    again = json.loads(run(server, token, "vuln", "import", str(folder), "--json"))
    assert again["counts"]["accepted"] == 0
    assert again["counts"]["duplicate"] == out["counts"]["accepted"]
    listed = run(server, token, "vuln", "list", "--limit", "200")
    assert "CLI-3" in listed
    shown = run(server, token, "vuln", "show", "CLI-3")
    assert "9.8" in shown and "9.3" in shown and "pkg:pypi/uploadkit@1.2.0" in shown
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(report("CLI-X", cwes=["nope"])) + "\n")
    run(server, token, "vuln", "import", str(bad), code=1)


def test_an_analyst_lists_and_verifies_product_claims(platform: Platform, server: str) -> None:
    (claim,) = platform.call(
        "developer",
        "POST",
        "/clearinghouse/products",
        201,
        json={"identifiers": ["pkg:pypi/uploadkit"], "proof": "https://uploadkit.org/.claim"},
    ).json()
    token = platform["clearinghouse"].token
    listed = json.loads(run(server, token, "vuln", "claims", "list", "--json"))
    assert [c["id"] for c in listed["items"]] == [claim["id"]]
    assert "pkg:pypi/uploadkit" in run(server, token, "vuln", "claims", "list")
    verified = json.loads(
        run(server, token, "vuln", "claims", "verify", claim["id"], "--note", "URL ok", "--json")
    )
    assert verified["status"] == "verified" and verified["decision_note"] == "URL ok"
    assert json.loads(run(server, token, "vuln", "claims", "list", "--json"))["items"] == []
    run(server, token, "vuln", "claims", "reject", claim["id"], code=1)
    # Revoking is irreversible: without a terminal and without --yes it is refused.
    run(server, token, "vuln", "claims", "revoke", claim["id"], code=2)
    still = json.loads(run(server, token, "vuln", "claims", "list", "--status", "all", "--json"))
    assert [c["status"] for c in still["items"]] == ["verified"]
    revoked = json.loads(
        run(server, token, "vuln", "claims", "revoke", claim["id"], "--yes", "--json")
    )
    assert revoked["status"] == "revoked"
    run(server, platform["developer"].token, "vuln", "claims", "list", code=1)


def test_an_analyst_merges_and_reopens_a_proposed_duplicate(
    platform: Platform, server: str
) -> None:
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=report("DC-1"))
    second = report(
        "DC-2",
        title="Upload handler path traversal",
        description="The save_upload() function in app/upload.py joins the user's file name to "
        "the upload root without normalising it, so '../' sequences write outside the root dir.",
    )
    platform.call("partner", "POST", "/clearinghouse/reports", 201, json=second)
    token = platform["clearinghouse"].token
    (proposal,) = json.loads(run(server, token, "vuln", "duplicates", "list", "--json"))["items"]
    assert (proposal["report_id"], proposal["candidate_id"]) == ("DC-2", "DC-1")
    assert "DC-1" in run(server, token, "vuln", "duplicates", "list", "--status", "proposed")
    merged = json.loads(
        run(
            server, token, "vuln", "duplicates", "merge", proposal["id"], "--note", "same", "--json"
        )
    )
    assert merged["status"] == "merged"
    shown = platform.call("clearinghouse", "GET", "/clearinghouse/reports/DC-2", 200).json()
    assert shown["merged_into"] == "DC-1"
    run(server, token, "vuln", "duplicates", "merge", proposal["id"], code=1)
    run(server, token, "vuln", "duplicates", "reopen", proposal["id"])
    shown = platform.call("clearinghouse", "GET", "/clearinghouse/reports/DC-2", 200).json()
    assert shown["merged_into"] is None
    rejected = json.loads(
        run(server, token, "vuln", "duplicates", "reject", proposal["id"], "--json")
    )
    assert rejected["status"] == "rejected"
    run(server, platform["agency"].token, "vuln", "duplicates", "list", code=1)


def test_a_case_is_opened_and_a_vendor_states_its_status(platform: Platform, server: str) -> None:
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=report("CC-1"))
    token = platform["clearinghouse"].token
    vendor = platform["developer"].org_id
    created = json.loads(
        run(
            server,
            token,
            "vuln",
            "case",
            "create",
            "--title",
            "uploadkit traversal",
            "--report",
            "CC-1",
            "--vendor",
            vendor,
            "--zone",
            "America/New_York",
            "--json",
        )
    )
    case_id = created["id"]
    assert created["report_ids"] == ["CC-1"] and created["vendor_count"] == 1
    listed = json.loads(run(server, token, "vuln", "case", "list", "--json"))
    assert [c["id"] for c in listed["items"]] == [case_id]
    assert "uploadkit traversal" in run(server, token, "vuln", "case", "list")
    shown = json.loads(
        run(server, platform["developer"].token, "vuln", "case", "show", case_id, "--json")
    )
    assert shown["embargo"]["zone"] == "America/New_York"
    dev = platform["developer"].token
    stated = json.loads(
        run(
            server,
            dev,
            "vuln",
            "case",
            "vendor-status",
            case_id,
            vendor,
            "CC-1",
            "--status",
            "affected",
            "--statement",
            "fix in 1.2.1",
            "--json",
        )
    )
    assert stated["status"] == "affected"
    table = json.loads(run(server, token, "vuln", "case", "vendors", case_id, "--json"))
    assert table["items"][0]["statuses"]["CC-1"]["statement"] == "fix in 1.2.1"
    assert "affected" in run(server, token, "vuln", "case", "vendors", case_id)
    run(
        server,
        dev,
        "vuln",
        "case",
        "vendor-status",
        case_id,
        vendor,
        "CC-1",
        "--status",
        "patched",
        code=1,
    )
    later = (datetime.fromisoformat(created["embargo"]["until"]) + timedelta(days=7)).isoformat()
    moved = json.loads(
        run(
            server,
            token,
            "vuln",
            "case",
            "embargo",
            case_id,
            "--until",
            later,
            "--reason",
            "vendor needs a week",
            "--json",
        )
    )
    assert datetime.fromisoformat(moved["embargo"]["until"]) == datetime.fromisoformat(later)
    assert [c["reason"] for c in moved["embargo_changes"]] == ["vendor needs a week"]
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=report("CC-2"))
    added = json.loads(
        run(server, token, "vuln", "case", "add", case_id, "--report", "CC-2", "--json")
    )
    assert sorted(added["report_ids"]) == ["CC-1", "CC-2"]


def test_publish_asks_first_then_every_export_is_written_once(
    platform: Platform, server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = report("PX-1", tlp="CLEAR", aliases=["CVE-2026-12345"])
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=body)
    token = platform["clearinghouse"].token
    run(server, token, "vuln", "publish", "PX-1", code=2)
    shown = platform.call("clearinghouse", "GET", "/clearinghouse/reports/PX-1", 200).json()
    assert shown["published_at"] is None
    run(server, token, "vuln", "export", "PX-1", "-o", str(tmp_path / "early.json"), code=1)
    assert not (tmp_path / "early.json").exists()
    published = json.loads(run(server, token, "vuln", "publish", "PX-1", "--yes", "--json"))
    assert published["published_at"] is not None
    monkeypatch.chdir(tmp_path)
    reader = platform["developer"].token
    for name in ("csaf", "osv", "cve", "stix"):
        run(server, reader, "vuln", "export", "PX-1", "--format", name)
    csaf = json.loads((tmp_path / "PX-1.csaf.json").read_text())
    assert csaf["document"]["category"] == "csaf_security_advisory"
    assert schema_problems(csaf, Standard.CSAF) == []
    osv = json.loads((tmp_path / "PX-1.osv.json").read_text())
    assert osv["aliases"] == ["CVE-2026-12345"] and schema_problems(osv, Standard.OSV) == []
    cve = json.loads((tmp_path / "PX-1.cve.json").read_text())
    assert cve["dataType"] == "CVE_RECORD" and schema_problems(cve, Standard.CVE5) == []
    assert json.loads((tmp_path / "PX-1.stix.json").read_text())["type"] == "bundle"
    vex = tmp_path / "vex.json"
    run(server, reader, "vuln", "export", "PX-1", "--profile", "vex", "-o", str(vex))
    assert json.loads(vex.read_text())["document"]["category"] == "csaf_vex"
    vex.write_text("mine")
    run(server, reader, "vuln", "export", "PX-1", "--format", "osv", "-o", str(vex), code=1)
    assert vex.read_text() == "mine"
    run(server, reader, "vuln", "export", "PX-1", "--format", "osv", "-o", str(vex), "--force")
    assert json.loads(vex.read_text())["aliases"] == ["CVE-2026-12345"]
    run(server, reader, "vuln", "export", "PX-1", "--format", "pdf", code=2)
