"""Model-found labels are verified, not asserted: the reporter must have been in the review."""

from __future__ import annotations

from typing import Any

from prereview.exchange.validation import Standard, schema_problems
from support.factories import Platform
from support.factories.clearinghouse import report

UNVERIFIABLE = "urn:prereview:problem:clearinghouse-unverifiable-model-label"


def _label(platform: Platform, who: str, report_id: str, expect: int, **body: Any) -> Any:
    return platform.call(
        who, "POST", f"/clearinghouse/reports/{report_id}/model-label", expect, json=body
    ).json()


def _reported(platform: Platform, who: str, report_id: str, **extra: Any) -> None:
    platform.call(who, "POST", "/clearinghouse/reports", 201, json=report(report_id, **extra))


def test_a_granted_agency_labels_its_report_and_the_label_is_shown(platform: Platform) -> None:
    sid = platform.submit()["id"]
    platform.grant(sid)
    _reported(platform, "agency", "PRV-m1")
    before = platform.call("agency", "GET", "/clearinghouse/reports/PRV-m1", 200).json()
    assert before["model_label"] is None  # the document's discovered_by is only a claim
    out = _label(platform, "agency", "PRV-m1", 200, submission_id=sid, model="Atlas")
    assert out["model_label"]["submission_id"] == sid
    assert out["model_label"]["model"] == "Atlas" and out["model_label"]["model_version"] == "1.0"
    again = platform.call("clearinghouse", "GET", "/clearinghouse/reports/PRV-m1", 200).json()
    assert again["model_label"] == out["model_label"]


def test_an_organisation_never_in_the_review_cannot_label(platform: Platform) -> None:
    sid = platform.submit()["id"]
    platform.grant(sid)  # the agency, not the other agency
    _reported(platform, "other_agency", "PRV-m2")
    refused = _label(platform, "other_agency", "PRV-m2", 422, submission_id=sid, model="Atlas")
    unknown = _label(
        platform, "other_agency", "PRV-m2", 422, submission_id="sub_nosuch", model="Atlas"
    )
    # Both answers are the same: it learns nothing of a submission it was never in.
    assert refused["type"] == unknown["type"] == UNVERIFIABLE
    assert refused["detail"].replace(sid, "X") == unknown["detail"].replace("sub_nosuch", "X")
    # A partner with no nomination, the other developer: refused too.
    _reported(platform, "other_developer", "PRV-m3")
    assert (
        _label(platform, "other_developer", "PRV-m3", 422, submission_id=sid, model="Atlas")["type"]
        == UNVERIFIABLE
    )
    labelled = platform.call("other_agency", "GET", "/clearinghouse/reports/PRV-m2", 200).json()
    assert labelled["model_label"] is None


def test_the_model_must_be_the_reviews_and_the_labeller_the_reporter(platform: Platform) -> None:
    sid = platform.submit()["id"]
    platform.grant(sid)
    _reported(platform, "agency", "PRV-m4")
    wrong = _label(platform, "agency", "PRV-m4", 422, submission_id=sid, model="Other-model")
    assert wrong["type"] == UNVERIFIABLE and wrong["errors"][0]["path"] == "$.model"
    # The clearinghouse reads the report but did not report it: it may not label it.
    forbidden = _label(platform, "clearinghouse", "PRV-m4", 403, submission_id=sid, model="Atlas")
    assert forbidden["type"] == "urn:prereview:problem:forbidden"
    # Nor may one who cannot read the report (TLP:AMBER): it is not there for them.
    _label(platform, "other_developer", "PRV-m4", 404, submission_id=sid, model="Atlas")


def test_access_that_ended_still_verifies_and_the_developer_labels_its_own(
    platform: Platform,
) -> None:
    sid = platform.submit()["id"]
    grant = platform.grant(sid)
    platform.call("developer", "POST", f"/submissions/{sid}/grants/{grant['id']}/revoke", 200)
    _reported(platform, "agency", "PRV-m5")
    _label(platform, "agency", "PRV-m5", 200, submission_id=sid, model="Atlas")
    _reported(platform, "developer", "PRV-m6")
    _label(platform, "developer", "PRV-m6", 200, submission_id=sid, model="Atlas")


def test_the_triage_summary_counts_verified_claimed_and_other_apart(platform: Platform) -> None:
    sid = platform.submit()["id"]
    platform.grant(sid)
    _reported(platform, "agency", "PRV-v1")
    _label(platform, "agency", "PRV-v1", 200, submission_id=sid, model="Atlas")
    _reported(platform, "agency", "PRV-c1")  # says a model found it; not verified
    _reported(platform, "agency", "PRV-c2")
    _reported(
        platform, "agency", "PRV-p1", discovered_by={"kind": "person", "name": "A. Researcher"}
    )
    doc = report("PRV-n1")
    doc.pop("discovered_by")
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=doc)
    summary = platform.call("clearinghouse", "GET", "/clearinghouse/triage/summary", 200).json()
    assert summary == {"model_verified": 1, "model_claimed": 2, "other": 2}
    platform.call("agency", "GET", "/clearinghouse/triage/summary", 403)


def test_exports_carry_the_verified_label_and_nothing_of_the_review(platform: Platform) -> None:
    sid = platform.submit()["id"]
    platform.grant(sid)
    for report_id in ("PRV-x1", "PRV-x2"):
        _reported(platform, "agency", report_id)
        platform.call("clearinghouse", "POST", f"/clearinghouse/reports/{report_id}/publish", 200)
    _label(platform, "agency", "PRV-x1", 200, submission_id=sid, model="Atlas")
    csaf = platform.call("agency", "GET", "/clearinghouse/advisories/PRV-x1.csaf.json", 200)
    osv = platform.call("agency", "GET", "/clearinghouse/advisories/PRV-x1.osv.json", 200).json()
    assert schema_problems(csaf.json(), Standard.CSAF) == []
    assert schema_problems(osv, Standard.OSV) == []
    notes = [n for n in csaf.json()["document"]["notes"] if n["title"] == "Found by an AI model"]
    assert len(notes) == 1 and notes[0]["category"] == "other"
    assert osv["database_specific"]["found_by"]["verified"] is True
    # The review is confidential: neither its id nor the model's name leaves in an export.
    assert sid not in csaf.text and "Atlas" not in csaf.text
    assert sid not in str(osv) and "Atlas" not in str(osv)
    # A report whose document only claims a model found it is exported without the label.
    plain = platform.call("agency", "GET", "/clearinghouse/advisories/PRV-x2.osv.json", 200)
    assert "found_by" not in plain.json().get("database_specific", {})
