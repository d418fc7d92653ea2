"""The authorization matrix: every operation, as every kind of actor, against the expected table.

Each row lists the status for: the owning developer, another developer, the granted agency,
another agency, the consented partner, another partner, the clearinghouse, and an anonymous
caller. A route added without a row here, without an ``x-permission``, or with a permission the
policy does not know, fails this test. 404 means the caller may not even learn the object exists;
403 means it may, and is told why not.
"""

from __future__ import annotations

from typing import Any

from prereview.identity.permissions import Permission
from prereview.identity.policy import POLICY
from support.factories import Platform
from support.matrix import ACTORS, observe
from support.scenario import operations

EXPECTED: dict[str, tuple[int, ...]] = {
    "GET /api/v1/me": (200, 200, 200, 200, 200, 200, 200, 401),
    "POST /api/v1/organisations": (403, 403, 403, 403, 403, 403, 201, 401),
    "GET /api/v1/organisations": (200, 200, 200, 200, 200, 200, 200, 401),
    "GET /api/v1/organisations/{org_id}": (200, 200, 200, 200, 200, 200, 200, 401),
    "POST /api/v1/organisations/{org_id}/users": (201, 201, 201, 201, 201, 201, 201, 401),
    "GET /api/v1/organisations/{org_id}/users": (200, 200, 200, 200, 200, 200, 200, 401),
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
    "GET /healthz": (200, 200, 200, 200, 200, 200, 200, 200),
    "GET /api/v1/audit/checkpoint": (200, 200, 200, 200, 200, 200, 200, 401),
    "GET /api/v1/audit/proof/inclusion": (200, 200, 200, 200, 200, 200, 200, 401),
    "GET /api/v1/audit/proof/consistency": (200, 200, 200, 200, 200, 200, 200, 401),
    "GET /api/v1/audit/entries": (200, 200, 403, 403, 403, 403, 403, 401),
    "POST /api/v1/submissions/{submission_id}/materials": (201, 404, 403, 404, 403, 404, 404, 401),
    "GET /api/v1/submissions/{submission_id}/materials": (200, 404, 200, 404, 200, 404, 404, 401),
    "GET /api/v1/materials/{material_id}": (200, 404, 200, 404, 403, 404, 404, 401),
    "GET /api/v1/materials/{material_id}/content": (200, 404, 200, 404, 403, 404, 404, 401),
}


def test_every_route_names_a_known_permission(platform: Platform) -> None:
    spec: dict[str, Any] = platform.client.app.openapi()  # type: ignore[attr-defined]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            permission = op.get("x-permission")
            assert permission, f"{method.upper()} {path} names no permission"
            if permission != "public":
                assert Permission(permission) in POLICY, f"{permission} has no policy rule"


def test_authorization_matrix(platform: Platform) -> None:
    spec: dict[str, Any] = platform.client.app.openapi()  # type: ignore[attr-defined]
    listed = {f"{m} {p}" for m, p in operations(spec)}
    assert listed == set(EXPECTED), (
        f"routes without a row: {listed - set(EXPECTED)}; rows without a route: {set(EXPECTED) - listed}"
    )
    seen = observe(platform)
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
