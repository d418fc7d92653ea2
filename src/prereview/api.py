"""The HTTP application: every capability's routers (from :mod:`prereview.capabilities`), the
ports that wire one capability to another, the pages, the API documentation and the gateway."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from prereview import __version__, web
from prereview.audit.routes import install_owned_submissions, install_witnessing
from prereview.audit.witnessing import WitnessPublisher
from prereview.authz.request import install_authenticator
from prereview.capabilities import api_routers, root_routers
from prereview.core import problems
from prereview.core.clock import Clock
from prereview.core.context import AppContext
from prereview.core.errors import ServiceUnavailable
from prereview.core.migrate import check_migrated
from prereview.core.settings import Settings, load_settings
from prereview.gateway.mount import mount_gateway
from prereview.identity.service import authenticate
from prereview.review.service import submission_ids_of
from prereview.web.headers import SecurityHeaders, inline_script_hashes

API_PREFIX = "/api/v1"
OPENAPI_URL = f"{API_PREFIX}/openapi.json"
DOCS_URL = f"{API_PREFIX}/docs"
#: Swagger UI's script, style sheet and icon, served by the site itself so that the docs work
#: offline and the docs page needs no other origin (see ``docs_csp`` in ``web.headers``).
DOCS_ASSETS_URL = f"{DOCS_URL}/assets"


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
        openapi_url=OPENAPI_URL,
        docs_url=None,  # served by _install_docs, from local assets instead of a CDN
        redoc_url=None,
    )
    docs_script_hashes = _install_docs(app)
    app.state.context = context
    install_authenticator(app, authenticate)
    install_owned_submissions(app, submission_ids_of)
    install_witnessing(app, WitnessPublisher(context.sessions, context.settings, context.clock))
    problems.install(app)

    api = APIRouter(prefix=API_PREFIX, responses=problems.PROBLEM_RESPONSES)
    for router in api_routers():
        api.include_router(router)
    app.include_router(api)
    for router in root_routers():  # TAXII 2.1 lives at /taxii2/, outside the REST API
        app.include_router(router)
    web.install(app)
    # Outermost of the app's own middleware: every answer, pages, API and gateway alike.
    app.add_middleware(SecurityHeaders, docs_prefix=DOCS_URL, docs_script_hashes=docs_script_hashes)

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


def _install_docs(app: FastAPI) -> tuple[str, ...]:
    """Serve Swagger UI at :data:`DOCS_URL` from the site's own copy of its assets.

    The assets are Swagger UI 5 (the first to read OpenAPI 3.1, which FastAPI writes) as the
    ``fastapi-offline`` package ships them; only its files are used. The page is built once;
    returns the hashes of its inline script, for the docs' Content-Security-Policy.
    """
    page = get_swagger_ui_html(
        openapi_url=OPENAPI_URL,
        title=f"{app.title} - Swagger UI",
        swagger_js_url=f"{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_ASSETS_URL}/favicon.png",
        # No badge from the public validator: the page reaches no other origin.
        swagger_ui_parameters={"validatorUrl": None},
    )
    body = bytes(page.body)
    assets = StaticFiles(directory=str(files("fastapi_offline") / "static"))
    app.mount(DOCS_ASSETS_URL, assets, name="docs-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(body)

    return inline_script_hashes(body)
