"""A report's page shows its reproduction: "claim only" without a PoC, the server's verdict with
one, and the PoC's logs only to those with a need to know."""

from __future__ import annotations

from pathlib import Path

from prereview.clearinghouse.reproduction import drain
from prereview.vault.service import Vault
from support.factories import Platform
from support.factories.clearinghouse import report

from .test_clearinghouse_pages import sign_in


def _page(platform: Platform, who: str, report_id: str) -> str:
    sign_in(platform, who)
    response = platform.client.get(f"/web/clearinghouse/reports/{report_id}")
    assert response.status_code == 200, response.text
    return response.text


def test_the_report_page_says_claim_only_then_shows_the_verdict(
    platform: Platform, tmp_path: Path
) -> None:
    body = report(tlp="GREEN")  # any platform member reads it, not its PoC
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=body)
    report_id = body["id"]
    assert 'id="claim-only"' in _page(platform, "clearinghouse", report_id)

    platform.client.cookies.clear()
    platform.call(
        "agency",
        "POST",
        f"/clearinghouse/reports/{report_id}/poc",
        201,
        params={"package": "pyyaml", "affected": "0.0.0-nowhere"},
        content=b"print('<b>poc</b>')\n",
    )
    assert 'id="reproduction-queued"' in _page(platform, "agency", report_id)
    context, settings = platform.context, platform.context.settings
    vault = Vault.local(settings.master_key_file, settings.blob_dir)
    assert drain(context.sessions, vault, context.clock, tmp_path)

    for who in ("agency", "clearinghouse"):
        text = _page(platform, who, report_id)
        assert "cannot reproduce here: package not available offline" in text
        assert 'id="reproduction-runs"' in text and "0.0.0-nowhere" in text
    outsider = _page(platform, "other_agency", report_id)
    assert 'id="reproduction-unknown"' in outsider and 'id="claim-only"' not in outsider
    assert "not available offline" in outsider  # the verdict, not the PoC or its logs
    assert 'id="reproduction-runs"' not in outsider
