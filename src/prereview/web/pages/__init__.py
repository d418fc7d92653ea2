"""The pages, one module per capability (templates in ``web/templates/<capability>/``).

:data:`ROUTERS` is what :func:`prereview.web.install` mounts, in order; a capability's new
page module is one more entry here.
"""

from __future__ import annotations

from fastapi import APIRouter

from prereview.web.pages import (
    admin,
    attestation,
    audit,
    clearinghouse,
    clearinghouse_cases,
    clearinghouse_federation,
    coverage,
    evals,
    gateway,
    identity,
    inventory,
    materials,
    review,
    transparency,
)

ROUTERS: tuple[APIRouter, ...] = (
    identity.router,
    review.router,
    inventory.router,
    admin.router,
    evals.router,
    coverage.router,
    materials.router,
    audit.router,
    attestation.router,
    gateway.router,
    clearinghouse.router,
    clearinghouse_cases.router,
    clearinghouse_federation.router,
    transparency.router,
)
