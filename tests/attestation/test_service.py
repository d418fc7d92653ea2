"""The attestation use case: what it states matches the records, who may ask, what it carries."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from prereview.attestation.signing import load_key
from prereview.attestation.verify import verify_attestation
from support.factories import Platform
from support.factories.attestation import WEIGHTS, Reviewed, attest


def statement(envelope: dict[str, Any]) -> dict[str, Any]:
    return json.loads(base64.b64decode(envelope["payload"]))  # type: ignore[no-any-return]


def test_round_trip_verifies_and_states_what_the_records_say(
    platform: Platform, reviewed: Reviewed
) -> None:
    envelope = attest(platform, reviewed.submission_id)
    verified = verify_attestation(envelope, load_key(platform.context.settings).public_pem())
    predicate = verified.predicate
    assert verified.statement["_type"] == "https://in-toto.io/Statement/v1"
    assert (
        verified.statement["predicateType"] == "https://prereview.dev/attestation/participation/v1"
    )
    assert predicate["model"] == {"name": "Atlas", "version": "1.0"}
    assert predicate["submissionId"] == reviewed.submission_id
    assert predicate["access"]["agencies"] == {"count": 2}
    assert predicate["access"]["partners"] == {"count": 1}
    assert predicate["findings"]["total"] == 4
    assert predicate["findings"]["bySeverity"] == {
        "critical": 1,
        "high": 2,
        "medium": 0,
        "low": 0 + 1,
        "informational": 0,
    }
    # One finding answered twice counts once; the unanswered two not at all.
    assert predicate["findings"]["answered"] == len(reviewed.answered) == 2
    window = predicate["window"]
    assert window["lengthDays"] == 25 and window["lengthSeconds"] == 25 * 86400
    seen = platform.call("developer", "GET", f"/submissions/{reviewed.submission_id}", 200).json()
    assert predicate["releasedAt"].replace("+00:00", "Z") == seen["released_at"].replace(
        "+00:00", "Z"
    )
    assert window["openedAt"].replace("+00:00", "Z") == seen["window"]["opened_at"].replace(
        "+00:00", "Z"
    )
    determinations = predicate["determinations"]
    assert determinations["exists"] is True and determinations["count"] == 2
    # The EU preset discloses its outcome to the developer; the other policy does not.
    assert [d["policyId"] for d in determinations["disclosed"]] == ["eu-ai-act-systemic-risk"]
    assert determinations["disclosed"][0]["outcome"] == "covered"
    assert determinations["undisclosed"] == 1
    assert predicate["withdrawnAt"] is None and predicate["digests"] == []


def test_names_reviewers_only_when_asked(platform: Platform, reviewed: Reviewed) -> None:
    anonymous = json.dumps(statement(attest(platform, reviewed.submission_id)))
    for name in ("agency org", "other_agency org", "partner org"):
        assert name not in anonymous
    named = statement(attest(platform, reviewed.submission_id, name_reviewers=True))["predicate"]
    agencies = {o["name"] for o in named["access"]["agencies"]["named"]}
    assert agencies == {"agency org", "other_agency org"}
    assert [o["name"] for o in named["access"]["partners"]["named"]] == ["partner org"]
    assert named["access"]["agencies"]["count"] == 2
    verify_attestation(
        attest(platform, reviewed.submission_id, name_reviewers=True),
        load_key(platform.context.settings).public_pem(),
    )


def test_a_digest_is_the_subject_and_is_matched_against_uploads(
    platform: Platform, reviewed: Reviewed
) -> None:
    stored = hashlib.sha256(WEIGHTS).hexdigest()
    assert stored == reviewed.material_sha256
    unknown = "ab" * 32
    envelope = attest(
        platform, reviewed.submission_id, weights_digest=stored.upper(), model_card_digest=unknown
    )
    verified = verify_attestation(envelope, load_key(platform.context.settings).public_pem())
    subjects = {
        s["annotations"]["of"]: s["digest"]["sha256"] for s in verified.statement["subject"]
    }
    assert subjects == {"weights": stored, "modelCard": unknown}
    digests = {d["of"]: d for d in verified.predicate["digests"]}
    assert digests["weights"]["matchesMaterial"] is True
    assert len(digests["weights"]["materialEntries"]) == 1
    assert digests["modelCard"] == {
        "of": "modelCard",
        "sha256": unknown,
        "matchesMaterial": False,
        "materialEntries": [],
    }


def test_without_a_digest_the_subject_is_the_submission_entry(
    platform: Platform, reviewed: Reviewed
) -> None:
    verified = verify_attestation(
        attest(platform, reviewed.submission_id), load_key(platform.context.settings).public_pem()
    )
    [subject] = verified.statement["subject"]
    created = verified.predicate["submissionEntry"]
    [entry] = [e for e in verified.predicate["evidence"]["entries"] if e["seq"] == created]
    assert subject["digest"]["sha256"] == hashlib.sha256(entry["leaf"].encode()).hexdigest()
    assert json.loads(entry["leaf"])["action"] == "review:submission:create"


def test_carries_the_entries_it_rests_on_and_no_reads(
    platform: Platform, reviewed: Reviewed
) -> None:
    predicate = statement(attest(platform, reviewed.submission_id))["predicate"]
    actions = [json.loads(e["leaf"])["action"] for e in predicate["evidence"]["entries"]]
    assert actions.count("review:finding:create") == 4
    assert actions.count("review:finding:respond") == 3
    assert actions.count("review:grant:create") == 2
    assert "review:submission:release" in actions
    assert not [a for a in actions if a.endswith(":read") or a.endswith(":list")]
    # The request itself is audited, after the entries it rests on.
    trail = platform.call(
        "developer",
        "GET",
        f"/submissions/{reviewed.submission_id}/audit",
        200,
        params={"limit": 200},
    ).json()["items"]
    asked = [e for e in trail if e["action"] == "attestation:participation:create"]
    assert len(asked) == 1
    assert asked[0]["detail"]["entries"] == [e["seq"] for e in predicate["evidence"]["entries"]]


def test_only_the_developer_may_ask(platform: Platform, reviewed: Reviewed) -> None:
    path = f"/submissions/{reviewed.submission_id}/attestation"
    platform.call("other_developer", "POST", path, 404)
    platform.call("other_agency", "POST", path, 403)  # it had access: told why not
    platform.call("agency", "POST", path, 403)
    platform.call("partner", "POST", path, 403)
    platform.call("other_partner", "POST", path, 404)
    platform.call("clearinghouse", "POST", path, 404)
    platform.call(None, "POST", path, 401)
    platform.call("developer", "POST", "/submissions/sub_missing/attestation", 404)


def test_a_bad_digest_is_refused(platform: Platform, reviewed: Reviewed) -> None:
    path = f"/submissions/{reviewed.submission_id}/attestation"
    for bad in ("abc", "zz" * 32, "ab" * 33):
        response = platform.call("developer", "POST", path, 422, json={"weights_digest": bad})
        assert response.headers["content-type"].startswith("application/problem+json")
    platform.call("developer", "POST", path, 422, json={"findings": 0})


def test_a_fresh_submission_is_attested_with_nothing_but_its_offer(platform: Platform) -> None:
    sid = platform.submit()["id"]
    verified = verify_attestation(
        attest(platform, sid), load_key(platform.context.settings).public_pem()
    )
    predicate = verified.predicate
    assert predicate["window"] is None and predicate["releasedAt"] is None
    assert predicate["findings"]["total"] == 0
    assert predicate["determinations"] == {
        "exists": False,
        "count": 0,
        "disclosed": [],
        "undisclosed": 0,
    }
    assert verified.entries == 1
