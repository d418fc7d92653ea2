"""The developer's "Download attestation" form: a plain form, a file that verifies."""

from __future__ import annotations

from prereview.attestation.signing import load_key
from prereview.attestation.verify import verify_attestation
from prereview.web.session import COOKIE
from support.factories import Platform
from support.factories.attestation import Reviewed
from support.web_matrix import SITE, sign_in


def _as(platform: Platform, who: str) -> dict[str, str]:
    return SITE | {"cookie": f"{COOKIE}={sign_in(platform, who)}"}


def test_the_developer_downloads_an_attestation_that_verifies(
    platform: Platform, reviewed: Reviewed
) -> None:
    sid = reviewed.submission_id
    shown = platform.client.get(f"/web/submissions/{sid}", headers=_as(platform, "developer"))
    assert shown.status_code == 200
    assert f'action="/web/submissions/{sid}/attestation"' in shown.text
    assert "Download attestation" in shown.text
    got = platform.client.post(
        f"/web/submissions/{sid}/attestation",
        data={"name_reviewers": "yes", "weights_digest": reviewed.material_sha256},
        headers=_as(platform, "developer"),
    )
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("application/json")
    assert "attachment" in got.headers["content-disposition"]
    verified = verify_attestation(got.content, load_key(platform.context.settings).public_pem())
    assert verified.predicate["access"]["agencies"]["named"]
    assert verified.predicate["digests"][0]["matchesMaterial"] is True


def test_reviewers_see_no_form_and_cannot_post_it(platform: Platform, reviewed: Reviewed) -> None:
    live = platform.submit()["id"]
    platform.grant(live)
    shown = platform.client.get(f"/web/submissions/{live}", headers=_as(platform, "agency"))
    assert shown.status_code == 200 and "Download attestation" not in shown.text
    sid = reviewed.submission_id
    refused = platform.client.post(
        f"/web/submissions/{sid}/attestation", headers=_as(platform, "agency")
    )
    assert refused.status_code == 403
    forged = platform.client.post(
        f"/web/submissions/{sid}/attestation",
        headers={"cookie": f"{COOKIE}={sign_in(platform, 'developer')}"},
    )
    assert forged.status_code == 403  # no Origin: a form another site could have sent
    bad = platform.client.post(
        f"/web/submissions/{sid}/attestation",
        data={"weights_digest": "not-hex"},
        headers=_as(platform, "developer"),
    )
    assert 400 <= bad.status_code < 500
