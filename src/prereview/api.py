"""The HTTP application: one line per capability's router."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from sqlalchemy import text

from prereview import __version__, web
from prereview.audit.routes import install_owned_submissions
from prereview.audit.routes import router as audit_router
from prereview.authz.request import install_authenticator
from prereview.clearinghouse.routes import router as clearinghouse_router
from prereview.core import problems
from prereview.core.clock import Clock
from prereview.core.context import AppContext
from prereview.core.errors import ServiceUnavailable
from prereview.core.migrate import check_migrated
from prereview.core.settings import Settings, load_settings
from prereview.coverage.routes import router as coverage_router
from prereview.evals.routes import router as evals_router
from prereview.exchange.routes import router as exchange_router
from prereview.exchange.taxii import router as taxii_router
from prereview.gateway.mount import mount_gateway
from prereview.gateway.routes import router as gateway_router
from prereview.identity.routes import router as identity_router
from prereview.identity.service import authenticate
from prereview.review.routes import router as review_router
from prereview.review.service import submission_ids_of
from prereview.web.headers import SecurityHeaders

API_PREFIX = "/api/v1"


def create_app(
    settings: Settings | None = None,
    clock: Clock | None = None,
    *,
    context: AppContext | None = None,
    check_schema: bool = True,
) -> FastAPI:
    """Build the platform's ASGI app.

    Refuses to build on a database that is not migrated, naming the command that fixes it.
    """
    context = context or AppContext.create(settings or load_settings(), clock)
    if check_schema:
        check_migrated(context.engine)

    app = FastAPI(
        title="prereview",
        version=__version__,
        summary="Voluntary pre-release review of frontier AI models.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.context = context
    install_authenticator(app, authenticate)
    install_owned_submissions(app, submission_ids_of)
    problems.install(app)

    api = APIRouter(prefix=API_PREFIX, responses=problems.PROBLEM_RESPONSES)
    api.include_router(identity_router)
    api.include_router(audit_router)
    api.include_router(review_router)
    api.include_router(clearinghouse_router)
    api.include_router(exchange_router)
    api.include_router(evals_router)
    api.include_router(coverage_router)
    api.include_router(gateway_router)
    app.include_router(api)
    app.include_router(taxii_router)  # TAXII 2.1 lives at /taxii2/, outside the REST API
    web.install(app)
    # Outermost of the app's own middleware: every answer, pages, API and gateway alike.
    app.add_middleware(SecurityHeaders, docs_prefix=f"{API_PREFIX}/docs")

    @app.get(
        "/healthz",
        tags=["health"],
        openapi_extra={"x-permission": "public"},
        responses=problems.PROBLEM_RESPONSES | problems.UNAVAILABLE_RESPONSES,
    )
    def healthz() -> dict[str, Any]:
        try:
            with context.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:
            raise ServiceUnavailable("the database does not answer") from exc
        return {"status": "ok", "version": __version__}

    # The model-access gateway: an ASGI app of its own at /gateway, closed by this app's lifespan.
    mount_gateway(app, context)
    return app
