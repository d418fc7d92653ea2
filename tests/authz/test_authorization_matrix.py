"""The authorization matrix: every operation, as every kind of actor, against the expected table.

Each row lists the status for: the owning developer, another developer, the granted agency,
another agency, the consented partner, another partner, the clearinghouse, and an anonymous
caller. A route added without a row here, without an ``x-permission``, or with a permission the
policy does not know, fails this test. 404 means the caller may not even learn the object exists;
403 means it may, and is told why not.
"""

from __future__ import annotations

from typing import Any

import pytest

from prereview.authz.permissions import Permission
from prereview.authz.policy import POLICY
from support.factories import Platform
from support.matrix import ACTORS, SHARDS, observe, shard
from support.scenario import operations

EXPECTED: dict[str, tuple[int, ...]] = {
    "GET /api/v1/me": (200, 200, 200, 200, 200, 200, 200, 401),
    "POST /api/v1/organisations": (403, 403, 403, 403, 403, 403, 201, 401),
    "GET /api/v1/organisations": (200, 200, 200, 200, 200, 200, 200, 401),
    "GET /api/v1/organisations/{org_id}": (200, 200, 200, 200, 200, 200, 200, 401),
    "POST /api/v1/organisations/{org_id}/users": (201, 201, 201, 201, 201, 201, 201, 401),
    "GET /api/v1/organisations/{org_id}/users": (200, 200, 200, 200, 200, 200, 200, 401),
    # identity: deactivation by the user's own organisation's administrators; invitations into
    # one's own organisation; redeeming needs no token (the secret is the credential)
    "POST /api/v1/users/{user_id}/deactivate": (200, 404, 404, 404, 404, 404, 404, 401),
    "POST /api/v1/users/{user_id}/reactivate": (200, 404, 404, 404, 404, 404, 404, 401),
    "POST /api/v1/organisations/{org_id}/invitations": (201, 201, 201, 201, 201, 201, 201, 401),
    "POST /api/v1/invitations/redeem": (201, 201, 201, 201, 201, 201, 201, 201),
    "POST /api/v1/tokens": (201, 201, 201, 201, 201, 201, 201, 401),
    "GET /api/v1/tokens": (200, 200, 200, 200, 200, 200, 200, 401),
    "POST /api/v1/tokens/{token_id}/revoke": (200, 404, 404, 404, 404, 404, 404, 401),
    "POST /api/v1/submissions": (201, 201, 403, 403, 403, 403, 403, 401),
    "GET /api/v1/submissions": (200, 200, 200, 200, 200, 200, 200, 401),
    "GET /api/v1/submissions/{submission_id}": (200, 404, 200, 404, 200, 404, 404, 401),
    "PATCH /api/v1/submissions/{submission_id}": (200, 404, 403, 404, 403, 404, 404, 401),
    "POST /api/v1/submissions/{submission_id}/release": (200, 404, 403, 404, 403, 404, 404, 401),
    "POST /api/v1/submissions/{submission_id}/withdraw": (200, 404, 403, 404, 403, 404, 404, 401),
    "GET /api/v1/submissions/{submission_id}/window": (200, 404, 200, 404, 200, 404, 404, 401),
    "PUT /api/v1/submissions/{submission_id}/window": (200, 404, 403, 404, 403, 404, 404, 401),
    "POST /api/v1/submissions/{submission_id}/grants": (201, 404, 403, 404, 403, 404, 404, 401),
    "GET /api/v1/submissions/{submission_id}/grants": (200, 404, 200, 404, 200, 404, 404, 401),
    "POST /api/v1/submissions/{submission_id}/grants/{grant_id}/revoke": (
        200,
        404,
        403,
        404,
        403,
        404,
        404,
        401,
    ),
    "POST /api/v1/submissions/{submission_id}/nominations": (
        403,
        404,
        201,
        404,
        403,
        404,
        404,
        401,
    ),
    "GET /api/v1/submissions/{submission_id}/nominations": (200, 404, 200, 404, 403, 404, 404, 401),
    "POST /api/v1/submissions/{submission_id}/nominations/{nomination_id}/consent": (
        200,
        404,
        403,
        404,
        403,
        404,
        404,
        401,
    ),
    "POST /api/v1/submissions/{submission_id}/nominations/{nomination_id}/decline": (
        200,
        404,
        403,
        404,
        403,
        404,
        404,
        401,
    ),
    "POST /api/v1/submissions/{submission_id}/findings": (403, 404, 201, 404, 201, 404, 404, 401),
    "GET /api/v1/submissions/{submission_id}/findings": (200, 404, 200, 404, 200, 404, 404, 401),
    "GET /api/v1/findings/{finding_id}": (200, 404, 200, 404, 404, 404, 404, 401),
    "POST /api/v1/findings/{finding_id}/responses": (201, 404, 403, 404, 404, 404, 404, 401),
    "GET /api/v1/queue": (403, 403, 200, 200, 200, 200, 403, 401),
    "GET /api/v1/submissions/{submission_id}/audit": (200, 404, 403, 404, 403, 404, 404, 401),
    # attestation: only the developer asks; reviewers who had access are told why not
    "POST /api/v1/submissions/{submission_id}/attestation": (
        200,
        404,
        403,
        404,
        403,
        404,
        404,
        401,
    ),
    "GET /healthz": (200, 200, 200, 200, 200, 200, 200, 200),
    "GET /audit/log/checkpoint": (200, 200, 200, 200, 200, 200, 200, 200),
    "GET /audit/log/tile/{tile_path}": (200, 200, 200, 200, 200, 200, 200, 200),
    "GET /api/v1/audit/checkpoint": (200, 200, 200, 200, 200, 200, 200, 401),
    "GET /api/v1/audit/proof/inclusion": (200, 200, 200, 200, 200, 200, 200, 401),
    "GET /api/v1/audit/proof/consistency": (200, 200, 200, 200, 200, 200, 200, 401),
    "GET /api/v1/audit/entries": (200, 200, 403, 403, 403, 403, 403, 401),
    # transparency: the report is public; the entries it rests on are the operator's auditors'
    "GET /api/v1/transparency/report": (200, 200, 200, 200, 200, 200, 200, 200),
    "GET /api/v1/transparency/entries": (403, 403, 403, 403, 403, 403, 200, 401),
    "POST /api/v1/submissions/{submission_id}/materials": (201, 404, 403, 404, 403, 404, 404, 401),
    "GET /api/v1/submissions/{submission_id}/materials": (200, 404, 200, 404, 200, 404, 404, 401),
    "GET /api/v1/materials/{material_id}": (200, 404, 200, 404, 403, 404, 404, 401),
    "GET /api/v1/materials/{material_id}/content": (200, 404, 200, 404, 403, 404, 404, 401),
    "POST /api/v1/clearinghouse/reports": (201, 201, 201, 201, 201, 201, 201, 401),
    "GET /api/v1/clearinghouse/reports": (200, 200, 200, 200, 200, 200, 200, 401),
    "POST /api/v1/clearinghouse/imports": (200, 200, 200, 200, 200, 200, 200, 401),
    "GET /api/v1/clearinghouse/reports/{report_id}": (200, 404, 200, 404, 404, 404, 200, 401),
    "GET /api/v1/clearinghouse/reports/{report_id}/evidence": (
        403,
        404,
        200,
        404,
        404,
        404,
        200,
        401,
    ),
    # a proof of concept: attached by the reporter only; it and its logs for the reporter,
    # the clearinghouse and the verified vendor (need to know)
    "POST /api/v1/clearinghouse/reports/{report_id}/poc": (403, 404, 201, 404, 404, 404, 403, 401),
    "GET /api/v1/clearinghouse/reports/{report_id}/poc": (200, 404, 200, 404, 404, 404, 200, 401),
    "GET /api/v1/clearinghouse/reports/{report_id}/reproduction": (
        200,
        404,
        200,
        404,
        404,
        404,
        200,
        401,
    ),
    "GET /api/v1/clearinghouse/reports/{report_id}/relations": (
        200,
        404,
        200,
        404,
        404,
        404,
        200,
        401,
    ),
    # the versions updates replaced: whoever may read the report (as its relations)
    "GET /api/v1/clearinghouse/reports/{report_id}/versions": (
        200,
        404,
        200,
        404,
        404,
        404,
        200,
        401,
    ),
    "POST /api/v1/clearinghouse/reports/{report_id}/publish": (
        403,
        404,
        403,
        404,
        404,
        404,
        200,
        401,
    ),
    # Relabelling: the reporter (the agency) to any label, the clearinghouse only tighter; the
    # example tightens AMBER to AMBER+STRICT. The vendor on the case may read but not relabel.
    "PUT /api/v1/clearinghouse/reports/{report_id}/tlp": (403, 404, 200, 404, 404, 404, 200, 401),
    "POST /api/v1/clearinghouse/relations": (403, 403, 403, 403, 403, 403, 201, 401),
    "GET /api/v1/clearinghouse/duplicates": (403, 403, 403, 403, 403, 403, 200, 401),
    "POST /api/v1/clearinghouse/duplicates/{duplicate_id}/decision": (
        403,
        403,
        403,
        403,
        403,
        403,
        200,
        401,
    ),
    "POST /api/v1/clearinghouse/cases": (403, 403, 403, 403, 403, 403, 201, 401),
    "GET /api/v1/clearinghouse/cases": (200, 200, 200, 200, 200, 200, 200, 401),
    "GET /api/v1/clearinghouse/cases/{case_id}": (200, 404, 200, 404, 404, 404, 200, 401),
    "POST /api/v1/clearinghouse/cases/{case_id}/members": (403, 404, 403, 404, 404, 404, 200, 401),
    "PUT /api/v1/clearinghouse/cases/{case_id}/embargo": (403, 404, 403, 404, 404, 404, 200, 401),
    "GET /api/v1/clearinghouse/cases/{case_id}/vendors": (200, 404, 200, 404, 404, 404, 200, 401),
    # A case's thread: its vendor and the clearinghouse; its reporter knows the case (403).
    "GET /api/v1/clearinghouse/cases/{case_id}/messages": (200, 404, 403, 404, 404, 404, 200, 401),
    "POST /api/v1/clearinghouse/cases/{case_id}/messages": (
        201,
        404,
        403,
        404,
        404,
        404,
        201,
        401,
    ),
    "PUT /api/v1/clearinghouse/cases/{case_id}/vendors/{org_id}/statuses/{report_id}": (
        200,
        404,
        403,
        404,
        404,
        404,
        422,
        401,
    ),
    # A vendor x product cell: its own vendor or the clearinghouse (whose own organisation,
    # the path's org here, is no vendor of the case: 422); the reporter knows the case (403).
    "PUT /api/v1/clearinghouse/cases/{case_id}/vendors/{org_id}/cells": (
        200,
        404,
        403,
        404,
        404,
        404,
        422,
        401,
    ),
    # Taking a vendor off is the clearinghouse's (its own organisation is on no case: 404).
    "DELETE /api/v1/clearinghouse/cases/{case_id}/vendors/{org_id}": (
        403,
        404,
        403,
        404,
        404,
        404,
        404,
        401,
    ),
    # A vendor's private thread (the path names the caller's own organisation): that vendor;
    # to anyone else, the reporter and the clearinghouse's own (no) thread included, it is 404.
    "GET /api/v1/clearinghouse/cases/{case_id}/vendors/{org_id}/messages": (
        200,
        404,
        404,
        404,
        404,
        404,
        404,
        401,
    ),
    "POST /api/v1/clearinghouse/cases/{case_id}/vendors/{org_id}/messages": (
        201,
        404,
        404,
        404,
        404,
        404,
        404,
        401,
    ),
    "POST /api/v1/clearinghouse/products": (201, 201, 403, 403, 201, 201, 403, 401),
    "GET /api/v1/clearinghouse/products": (200, 200, 200, 200, 200, 200, 200, 401),
    "POST /api/v1/clearinghouse/inventory": (403, 403, 403, 403, 201, 201, 403, 401),
    "GET /api/v1/clearinghouse/notifications": (200, 200, 200, 200, 200, 200, 200, 401),
    # A model-found label: only the reporter (the granted agency), and only for a review it
    # was in; the clearinghouse and the vendor read the report but did not report it.
    "POST /api/v1/clearinghouse/reports/{report_id}/model-label": (
        403,
        404,
        200,
        404,
        404,
        404,
        403,
        401,
    ),
    "GET /api/v1/clearinghouse/triage/summary": (403, 403, 403, 403, 403, 403, 200, 401),
    # The analyst's queue and its decisions are the clearinghouse's; the funnel is counts,
    # read by every kind of organisation (a vendor gets its own row only).
    "GET /api/v1/clearinghouse/triage/queue": (403, 403, 403, 403, 403, 403, 200, 401),
    "GET /api/v1/clearinghouse/triage/groups": (403, 403, 403, 403, 403, 403, 200, 401),
    "POST /api/v1/clearinghouse/reports/{report_id}/triage": (
        403,
        403,
        403,
        403,
        403,
        403,
        200,
        401,
    ),
    "GET /api/v1/clearinghouse/funnel": (200, 200, 200, 200, 200, 200, 200, 401),
    # Federation status (peers, their collections' sync): the clearinghouse's own business.
    "GET /api/v1/clearinghouse/federation/peers": (403, 403, 403, 403, 403, 403, 200, 401),
    # A vendor's capacity (here each caller's own organisation): its members read it, its
    # administrators set it (an agency makes no products), the clearinghouse both.
    "GET /api/v1/clearinghouse/vendors/{org_id}/capacity": (
        200,
        200,
        200,
        200,
        200,
        200,
        200,
        401,
    ),
    "PUT /api/v1/clearinghouse/vendors/{org_id}/capacity": (
        200,
        200,
        403,
        403,
        200,
        200,
        200,
        401,
    ),
    # A product claim (the other partner's, pending) is withdrawn by its own organisation only;
    # to anyone else it does not exist.
    "POST /api/v1/clearinghouse/products/{claim_id}/withdraw": (
        404,
        404,
        404,
        404,
        404,
        200,
        404,
        401,
    ),
    # Product claims: only a clearinghouse analyst lists and verifies them.
    "GET /api/v1/clearinghouse/claims": (403, 403, 403, 403, 403, 403, 200, 401),
    "POST /api/v1/clearinghouse/claims/{claim_id}/decision": (
        403,
        403,
        403,
        403,
        403,
        403,
        200,
        401,
    ),
    "GET /api/v1/clearinghouse/advisories/for-me": (200, 200, 200, 200, 200, 200, 200, 401),
    "GET /api/v1/clearinghouse/advisories/{report_id}.csaf.json": (
        200,
        404,
        200,
        404,
        404,
        404,
        200,
        401,
    ),
    "GET /api/v1/clearinghouse/advisories/{report_id}/csaf/{csaf_name}": (
        200,
        404,
        200,
        404,
        404,
        404,
        200,
        401,
    ),
    "GET /api/v1/clearinghouse/advisories/{report_id}.osv.json": (
        200,
        404,
        200,
        404,
        404,
        404,
        200,
        401,
    ),
    "GET /api/v1/clearinghouse/advisories/{report_id}.cve.json": (
        200,
        404,
        200,
        404,
        404,
        404,
        200,
        401,
    ),
    "GET /api/v1/clearinghouse/advisories/{report_id}.stix.json": (
        200,
        404,
        200,
        404,
        404,
        404,
        200,
        401,
    ),
    "GET /taxii2/": (200, 200, 200, 200, 200, 200, 200, 401),
    "GET /taxii2/api/": (200, 200, 200, 200, 200, 200, 200, 401),
    "GET /taxii2/api/collections/": (200, 200, 200, 200, 200, 200, 200, 401),
    "GET /taxii2/api/collections/{collection_id}/": (200, 200, 200, 200, 200, 200, 200, 401),
    "GET /taxii2/api/collections/{collection_id}/objects/": (
        200,
        200,
        200,
        200,
        200,
        200,
        200,
        401,
    ),
    "GET /taxii2/api/collections/{collection_id}/manifest/": (
        200,
        200,
        200,
        200,
        200,
        200,
        200,
        401,
    ),
    "GET /taxii2/api/collections/{collection_id}/objects/{object_id}/": (
        404,
        404,
        404,
        404,
        404,
        404,
        404,
        401,
    ),
    "GET /taxii2/api/collections/{collection_id}/objects/{object_id}/versions/": (
        404,
        404,
        404,
        404,
        404,
        404,
        404,
        401,
    ),
    # gateway: the developer's upstream and limits; keys and transcripts of the calling org
    "PUT /api/v1/submissions/{submission_id}/gateway/upstream": (
        200,
        404,
        403,
        404,
        403,
        404,
        404,
        401,
    ),
    "GET /api/v1/submissions/{submission_id}/gateway/upstream": (
        200,
        404,
        403,
        404,
        403,
        404,
        404,
        401,
    ),
    "POST /api/v1/submissions/{submission_id}/gateway/keys": (
        403,
        404,
        201,
        404,
        201,
        404,
        404,
        401,
    ),
    "GET /api/v1/submissions/{submission_id}/gateway/keys": (
        200,
        404,
        200,
        404,
        200,
        404,
        404,
        401,
    ),
    "POST /api/v1/submissions/{submission_id}/gateway/keys/{key_id}/revoke": (
        200,
        404,
        200,
        404,
        404,
        404,
        404,
        401,
    ),
    "GET /api/v1/submissions/{submission_id}/gateway/limits": (
        200,
        404,
        200,
        404,
        200,
        404,
        404,
        401,
    ),
    "PUT /api/v1/submissions/{submission_id}/grants/{grant_id}/limits": (
        200,
        404,
        403,
        404,
        403,
        404,
        404,
        401,
    ),
    "PUT /api/v1/submissions/{submission_id}/nominations/{nomination_id}/limits": (
        200,
        404,
        403,
        404,
        403,
        404,
        404,
        401,
    ),
    "GET /api/v1/submissions/{submission_id}/gateway/transcripts": (
        200,
        404,
        200,
        404,
        200,
        404,
        404,
        401,
    ),
    "GET /api/v1/submissions/{submission_id}/gateway/transcripts/{call_id}": (
        200,
        404,
        200,
        404,
        404,
        404,
        404,
        401,
    ),
    "POST /api/v1/submissions/{submission_id}/evals": (403, 404, 201, 404, 403, 404, 404, 401),
    "GET /api/v1/submissions/{submission_id}/evals": (200, 404, 200, 404, 403, 404, 404, 401),
    "POST /api/v1/eval-results/{result_id}/log": (403, 404, 201, 404, 403, 404, 404, 401),
    "GET /api/v1/eval-results/{result_id}/log": (200, 404, 200, 404, 403, 404, 404, 401),
    # Private task packs: the owning agency's (the scenario's agency), shared with nobody; an
    # agency may list its own and upload; the others may not learn the pack exists. The other
    # agency is shared the pack before the unshare example: it knows it, but is not the owner.
    "POST /api/v1/eval-packs": (403, 403, 201, 201, 403, 403, 403, 401),
    "GET /api/v1/eval-packs": (403, 403, 200, 200, 403, 403, 403, 401),
    "GET /api/v1/eval-packs/{pack_id}": (404, 404, 200, 404, 404, 404, 404, 401),
    "GET /api/v1/eval-packs/{pack_id}/content": (404, 404, 200, 404, 404, 404, 404, 401),
    "POST /api/v1/eval-packs/{pack_id}/shares": (404, 404, 201, 404, 404, 404, 404, 401),
    "DELETE /api/v1/eval-packs/{pack_id}/shares/{agency_org_id}": (
        404,
        404,
        200,
        403,
        404,
        404,
        404,
        401,
    ),
    "POST /api/v1/submissions/{submission_id}/determinations": (
        403,
        404,
        201,
        404,
        403,
        404,
        404,
        401,
    ),
    "GET /api/v1/submissions/{submission_id}/determinations": (
        403,
        404,
        200,
        404,
        403,
        404,
        404,
        401,
    ),
    "GET /api/v1/submissions/{submission_id}/determination-notices": (
        200,
        404,
        403,
        404,
        403,
        404,
        404,
        401,
    ),
    "POST /api/v1/submissions/{submission_id}/coverage/what-if": (
        200,
        404,
        200,
        404,
        403,
        404,
        404,
        401,
    ),
    "GET /api/v1/coverage/presets": (200, 200, 200, 200, 200, 200, 200, 401),
}


def test_every_route_names_a_known_permission(platform: Platform) -> None:
    spec: dict[str, Any] = platform.client.app.openapi()  # type: ignore[attr-defined]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            permission = op.get("x-permission")
            assert permission, f"{method.upper()} {path} names no permission"
            if permission != "public":
                assert Permission(permission) in POLICY, f"{permission} has no policy rule"


def test_every_route_has_a_row(platform: Platform) -> None:
    spec: dict[str, Any] = platform.client.app.openapi()  # type: ignore[attr-defined]
    listed = {f"{m} {p}" for m, p in operations(spec)}
    assert listed == set(EXPECTED), (
        f"routes without a row: {listed - set(EXPECTED)}; rows without a route: {set(EXPECTED) - listed}"
    )


@pytest.mark.parametrize("part", range(SHARDS))
def test_authorization_matrix(platform: Platform, part: int) -> None:
    spec: dict[str, Any] = platform.client.app.openapi()  # type: ignore[attr-defined]
    seen = observe(platform, shard(operations(spec), part))
    assert seen
    wrong = {
        op: {
            a: (want, got)
            for a, want, got in zip(ACTORS, EXPECTED[op], row.values(), strict=True)
            if want != got
        }
        for op, row in seen.items()
    }
    wrong = {op: diff for op, diff in wrong.items() if diff}
    assert not wrong, f"(expected, got) by actor: {wrong}"
