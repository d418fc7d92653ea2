"""The coverage pages: a what-if first (recording nothing), then the determination confirmed
from its page, recorded exactly as seen and notified to the developer; the service's problems
shown with what to do next; and the refusals the API gives the same callers."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from prereview.audit.models import AuditEntry
from prereview.core.db import transaction
from prereview.coverage.models import Determination
from prereview.coverage.policy import parse_policy, preset_text
from support.factories import Platform
from support.factories.evals import evidence_run, register_gateway, solved
from web.test_pages import sign_in

START = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)

# Covered when the lower bound of ctf's interval reaches 0.5; the outcome stays with agencies.
CYBER = """# a test policy\r
format = 1
id = "web-cyber"
version = "1"
title = "Cyber <test> policy"
disclose_outcome_to_developer = false

[criteria]
combine = "all"

[[criteria.criterion]]
kind = "task_metric"
id = "ctf"
task = "ctf"
at_least = 0.5
min_samples = 20
"""


def granted(platform: Platform, **fields: Any) -> str:
    sub = platform.submit(model_name="Helios", **fields)
    platform.grant(sub["id"])
    register_gateway(platform, sub["id"])
    return str(sub["id"])


def counts(platform: Platform) -> tuple[int, int]:
    with transaction(platform.context.sessions) as db:
        return (
            db.scalar(select(func.count()).select_from(Determination)) or 0,
            db.scalar(select(func.count()).select_from(AuditEntry)) or 0,
        )


def recorded(platform: Platform) -> tuple[int, int]:
    """Determinations, and the audit entries that record one (page reads are audited too)."""
    with transaction(platform.context.sessions) as db:
        return (
            db.scalar(select(func.count()).select_from(Determination)) or 0,
            db.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "coverage:determination:create")
            )
            or 0,
        )


def hidden(html: str) -> dict[str, str]:
    """The hidden fields of the page's form (what the what-if carries on)."""
    return dict(re.findall(r'<input type="hidden" name="([a-z_0-9]+)" value="([^"]*)"', html))


def what_if(platform: Platform, sid: str, **fields: Any) -> Any:
    files = fields.pop("files", None)
    data = {"source": "preset"} | fields
    return platform.client.post(f"/web/submissions/{sid}/coverage/what-if", data=data, files=files)


def record(platform: Platform, sid: str, page: str, **fields: Any) -> Any:
    data: dict[str, Any] = hidden(page) | {"rationale": "ctf lower bound over 0.5"} | fields
    return platform.client.post(
        f"/web/submissions/{sid}/coverage/determinations", data=data, follow_redirects=False
    )


def test_what_if_records_nothing_then_the_confirmed_determination_is_recorded_and_notified(
    platform: Platform, tmp_path: Path
) -> None:
    sid = granted(platform, training_compute_flop=3e25)
    sign_in(platform, "agency")
    form = platform.client.get(f"/web/submissions/{sid}/coverage")
    assert form.status_code == 200 and 'id="no-determinations"' in form.text
    assert 'enctype="multipart/form-data"' in form.text
    assert "eu-ai-act-systemic-risk" in form.text  # the presets are offered
    before = counts(platform)
    shown = what_if(
        platform,
        sid,
        preset="eu-ai-act-systemic-risk",
        rationale="declared 3e25 FLOP",
        markings=["CUI"],
    )
    assert shown.status_code == 200, shown.text
    assert "Outcome now:" in shown.text and "covered" in shown.text
    assert parse_policy(preset_text("eu-ai-act-systemic-risk")).sha256 in shown.text
    assert counts(platform) == before  # a what-if writes nothing, not even to the log
    # The page is the confirmation: it says what recording does, and asks first with htmx.
    assert "cannot be undone" in shown.text and "developer org is notified" in shown.text
    assert 'hx-confirm="Record this determination?' in shown.text
    assert "with the outcome." in shown.text  # this preset discloses it
    assert ">declared 3e25 FLOP</textarea>" in shown.text  # the rationale carried on
    made = record(platform, sid, shown.text, rationale="declared 3e25 FLOP", markings=["CUI"])
    assert made.status_code == 303
    assert made.headers["location"] == f"/web/submissions/{sid}/coverage"
    [determination] = platform.call(
        "agency", "GET", f"/submissions/{sid}/determinations", 200
    ).json()["items"]
    assert determination["outcome"] == "covered"
    assert determination["rationale"] == "declared 3e25 FLOP"
    assert determination["markings"] == ["CUI"]
    assert determination["tlp"] == "TLP:AMBER+STRICT"
    listed = platform.client.get(f"/web/submissions/{sid}/coverage")
    assert "declared 3e25 FLOP" in listed.text and " · you" in listed.text
    # The developer is told, with the outcome this policy discloses.
    sign_in(platform, "developer")
    notices = platform.client.get(f"/web/submissions/{sid}/coverage")
    assert notices.status_code == 200 and 'class="notice"' in notices.text
    assert "agency org" in notices.text and "<strong>covered</strong>" in notices.text
    assert "declared 3e25 FLOP" not in notices.text  # the rationale is the agencies'
    assert 'id="record"' not in notices.text


def test_an_uploaded_policy_is_recorded_byte_for_byte_and_its_outcome_kept_from_the_developer(
    platform: Platform, tmp_path: Path
) -> None:
    sid = granted(platform)
    evidence_run(platform, sid, tmp_path, solved(22, 24), started=START + timedelta(hours=1))
    sign_in(platform, "agency")
    data = CYBER.encode("utf-8")  # a CR LF on its first line: kept as it is
    shown = what_if(
        platform,
        sid,
        source="file",
        rationale="ctf",
        files={"policy_file": ("cyber.toml", data, "application/toml")},
    )
    assert shown.status_code == 200, shown.text
    assert hashlib.sha256(data).hexdigest() in shown.text
    assert "Cyber &lt;test&gt; policy" in shown.text and "<test>" not in shown.text
    assert 'data-status="met"' in shown.text and "best 0." in shown.text
    assert "without the outcome" in shown.text
    carried = hidden(shown.text)
    assert base64.b64decode(carried["policy_b64"]) == data
    assert record(platform, sid, shown.text).status_code == 303
    [made] = platform.call("agency", "GET", f"/submissions/{sid}/determinations", 200).json()[
        "items"
    ]
    assert made["policy"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert made["policy_text"] == CYBER and made["outcome"] == "covered"
    sign_in(platform, "developer")
    notices = platform.client.get(f"/web/submissions/{sid}/coverage")
    assert "not disclosed" in notices.text and "<strong>covered</strong>" not in notices.text


def test_if_the_evidence_changed_since_the_what_if_nothing_is_recorded(
    platform: Platform, tmp_path: Path
) -> None:
    sid = granted(platform)
    sign_in(platform, "agency")
    data = CYBER.encode("utf-8")
    files = {"policy_file": ("cyber.toml", data, "application/toml")}
    shown = what_if(platform, sid, source="file", rationale="r", files=files)
    assert "undetermined" in shown.text  # no ctf run yet
    evidence_run(platform, sid, tmp_path, solved(22, 24), started=START + timedelta(hours=1))
    before = recorded(platform)
    again = record(platform, sid, shown.text)
    assert again.status_code == 409
    assert "The evidence changed since your what-if" in again.text
    assert "nothing was recorded" in again.text and 'id="next-step"' in again.text
    assert recorded(platform) == before
    # The new what-if is on the page, with its own digest: confirming it records it.
    assert "covered" in again.text and hidden(again.text)["digest"] != hidden(shown.text)["digest"]
    assert record(platform, sid, again.text).status_code == 303
    assert recorded(platform)[0] == before[0] + 1


def test_the_services_problems_are_shown_with_what_to_do_next(
    platform: Platform,
) -> None:
    sid = granted(platform)
    sign_in(platform, "agency")
    before = recorded(platform)
    bad = CYBER.replace("format = 1", "format = 3").replace("at_least = 0.5", "at_least = -2")
    files = {"policy_file": ("bad.toml", bad.encode(), "application/toml")}
    answer = what_if(platform, sid, source="file", rationale="kept", files=files)
    assert answer.status_code == 422
    assert "The coverage policy is not valid" in answer.text
    assert "<code>format</code>" in answer.text
    assert "<code>criteria.criterion[0].task_metric.at_least</code>" in answer.text
    assert "urn:prereview:problem:coverage-policy-invalid" in answer.text
    assert "What to do: Correct each problem listed" in answer.text
    assert ">kept</textarea>" in answer.text  # the form comes back filled
    for fields, slug in [
        ({"source": "file"}, "coverage-policy-missing"),  # no file chosen
        ({"preset": "no-such-policy"}, "coverage-preset-unknown"),
        ({"preset": ""}, "coverage-policy-missing"),
        ({"source": "paste"}, "invalid-input"),
        (
            {"source": "file", "files": {"policy_file": ("x.toml", b"\xff\xfe", "text/plain")}},
            "invalid-encoding",
        ),
        (
            {"source": "file", "files": {"policy_file": ("x.toml", b"format = = 1", "text/plain")}},
            "coverage-policy-invalid",
        ),
    ]:
        answer = what_if(platform, sid, **fields)
        assert answer.status_code == 422, (fields, answer.status_code)
        assert f"urn:prereview:problem:{slug}" in answer.text, (fields, answer.text[-800:])
        assert 'id="problem"' in answer.text and 'id="coverage-form"' in answer.text
    # A blank rationale is refused on the what-if's page, the policy still chosen.
    shown = what_if(platform, sid, preset="eu-ai-act-systemic-risk")
    blank = record(platform, sid, shown.text, rationale="")
    assert blank.status_code == 422 and "rationale" in blank.text and 'id="record"' in blank.text
    damaged = record(platform, sid, shown.text, source="file", policy_b64="%%%")
    assert damaged.status_code == 422 and "upload the file again" in damaged.text
    wrong_tlp = record(platform, sid, shown.text, tlp="TLP:PURPLE")
    assert wrong_tlp.status_code == 422 and 'id="problem"' in wrong_tlp.text
    assert recorded(platform) == before


def test_refused_as_the_api_refuses(platform: Platform) -> None:
    sid = granted(platform)
    shown: dict[str, str] = {}
    sign_in(platform, "agency")
    page = what_if(platform, sid, preset="ca-sb53-frontier-compute")
    shown = hidden(page.text) | {"rationale": "r"}
    before = recorded(platform)
    for who, read, post in (
        ("other_agency", 404, 404),
        ("other_developer", 404, 404),
        ("clearinghouse", 404, 404),
        ("developer", 200, 403),  # reads notices, may not determine
    ):
        sign_in(platform, who)
        answer = platform.client.get(f"/web/submissions/{sid}/coverage")
        assert answer.status_code == read, (who, answer.status_code)
        made = platform.client.post(f"/web/submissions/{sid}/coverage/determinations", data=shown)
        assert made.status_code == post, (who, made.status_code)
    # The developer's what-if is its own to run (on every agency's evidence); no record form.
    sign_in(platform, "developer")
    mine = what_if(platform, sid, preset="ca-sb53-frontier-compute")
    assert mine.status_code == 200 and 'id="record"' not in mine.text
    # A form from another site is refused before anything happens.
    sign_in(platform, "agency")
    forged = platform.client.post(
        f"/web/submissions/{sid}/coverage/determinations",
        data=shown,
        headers={"origin": "https://evil.example"},
    )
    assert forged.status_code == 403
    assert recorded(platform)[0] == before[0]


def test_after_access_ends_the_agency_keeps_its_own_determinations_and_may_still_determine(
    platform: Platform,
) -> None:
    sid = granted(platform)
    platform.grant(sid, agency="other_agency")
    sign_in(platform, "other_agency")
    theirs = what_if(platform, sid, preset="ca-sb53-frontier-compute")
    assert record(platform, sid, theirs.text, rationale="other agency's view").status_code == 303
    sign_in(platform, "agency")
    live = platform.client.get(f"/web/submissions/{sid}/coverage")
    assert "other agency&#39;s view" in live.text  # every agency's, while the grant is live
    platform.call("developer", "POST", f"/submissions/{sid}/release", 200)
    ended = platform.client.get(f"/web/submissions/{sid}/coverage")
    assert ended.status_code == 200 and "Helios" in ended.text
    assert "other agency&#39;s view" not in ended.text and 'id="no-determinations"' in ended.text
    shown = what_if(platform, sid, preset="ca-sb53-frontier-compute")
    assert shown.status_code == 200 and 'id="record"' in shown.text
    assert record(platform, sid, shown.text, rationale="after release").status_code == 303
    mine = platform.client.get(f"/web/submissions/{sid}/coverage")
    assert "after release" in mine.text and "other agency&#39;s view" not in mine.text
