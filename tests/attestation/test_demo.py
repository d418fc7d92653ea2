"""The demo's released model gets an attestation that verifies offline and says what happened."""

from __future__ import annotations

from fastapi.testclient import TestClient

from prereview.attestation.signing import load_key
from prereview.attestation.verify import verify_attestation
from prereview.core.context import AppContext
from prereview.demo import seed


def test_the_demo_released_model_is_attested(context: AppContext, client: TestClient) -> None:
    tokens = seed(context)
    released = tokens.ids["RELEASED_SUBMISSION"]
    response = client.post(
        f"/api/v1/submissions/{released}/attestation",
        headers={"Authorization": f"Bearer {tokens.values['DEV_TOKEN']}"},
        json={"name_reviewers": True},
    )
    assert response.status_code == 200, response.text
    verified = verify_attestation(response.json(), load_key(context.settings).public_pem())
    predicate = verified.predicate
    assert predicate["model"] == {"name": "Helios", "version": "1.5"}
    assert predicate["releasedAt"] is not None
    assert predicate["window"]["lengthDays"] == 30
    assert predicate["access"]["agencies"]["count"] == 1
    assert [o["name"] for o in predicate["access"]["agencies"]["named"]] == [
        "Center for AI Standards and Innovation"
    ]
    assert predicate["findings"]["bySeverity"]["medium"] == 1
    assert predicate["findings"]["answered"] == predicate["findings"]["total"] == 1
    # Another demo organisation cannot ask for it.
    refused = client.post(
        f"/api/v1/submissions/{released}/attestation",
        headers={"Authorization": f"Bearer {tokens.values['CAISI_TOKEN']}"},
    )
    assert refused.status_code == 403
