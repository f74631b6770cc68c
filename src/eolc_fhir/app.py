"""create_app(settings): wires storage, services and the HTTP layer together."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from eolc_fhir import __version__
from eolc_fhir.api import (
    auth,
    conformance,
    console,
    console_deliveries,
    console_live,
    console_measures,
    console_register,
    docs_page,
    errors,
    export,
    guard,
    measures,
    operations,
    rest,
    search,
    signin,
    signin_external,
    subscriptions,
    system,
    unknown_operations,
    websocket,
)
from eolc_fhir.api.fastread import FastReadMiddleware
from eolc_fhir.api.html_format import HtmlAnswerMiddleware
from eolc_fhir.api.negotiation import NegotiationMiddleware
from eolc_fhir.api.xml_format import XmlAnswerMiddleware
from eolc_fhir.config import Settings
from eolc_fhir.heap import fix_mmap_threshold
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.startup import build_context, close_context

__all__ = ["create_app", "from_environment", "worker_app"]

log = logging.getLogger("eolc_fhir")


# Every FHIR route checks its interaction and type against the caller's token (issue 6).
_GUARDED = [Depends(guard.authorize_route)]


def _include_routers(app: FastAPI, settings: Settings) -> None:
    app.include_router(system.router)
    if settings.api_docs:
        app.include_router(docs_page.router)
    app.include_router(auth.router)
    app.include_router(signin.router)
    app.include_router(signin_external.router)
    app.include_router(console.router)  # people's pages; they sign in themselves
    app.include_router(console_live.router)
    app.include_router(console_measures.router)
    app.include_router(console_deliveries.router)
    app.include_router(console_register.router)
    app.include_router(websocket.router)  # /ws: the binding token is its authentication
    app.include_router(rest.early_router, dependencies=_GUARDED)
    # Feature routes before the generic REST routes, whose patterns would catch them;
    # every operation's route before unknown_operations, which answers for the others.
    for router in (operations.router, export.router, measures.router, conformance.router,
                   subscriptions.router):
        app.include_router(router, dependencies=_GUARDED)
    app.include_router(unknown_operations.router)  # refuses before any data is touched
    app.include_router(search.router, dependencies=_GUARDED)
    # last: its /{type}/{id} patterns catch everything
    app.include_router(rest.router, dependencies=_GUARDED)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx: ServerContext = await build_context(settings)
        app.state.ctx = ctx
        if settings.tune_gc:
            # Start-up leaves ~1e6 long-lived objects (models, profiles, registry): every
            # full collection walked them and stalled the worker ~200 ms ($wishes p99 at
            # 16 clients: 215 ms without, 19 ms with). Freeze them; collect less often.
            gc.collect()
            gc.freeze()
            gc.set_threshold(50_000, 20, 1_000)
        app.state.mmap_threshold_fixed = fix_mmap_threshold(settings.mmap_threshold_kb)
        try:
            yield
        finally:
            await close_context(ctx)

    app = FastAPI(
        title="eolc-fhir",
        version=__version__,
        description="FHIR R4 server for shared end-of-life care records. FHIR JSON and FHIR "
                    "XML (application/fhir+xml, _format=xml) in bodies and answers.",
        lifespan=lifespan,
        docs_url=None,  # our own /docs (api/docs_page.py): Swagger UI from local files
        redoc_url=None,
        # No OpenTelemetry here: without this FastAPI asks its providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    errors.install_error_handlers(app)
    _include_routers(app, settings)
    # Added last = outermost: negotiation refuses first, then the lean paths.
    app.add_middleware(FastReadMiddleware)
    app.add_middleware(NegotiationMiddleware, max_body_bytes=settings.max_body_bytes,
                       max_depth=settings.max_json_depth)
    app.add_middleware(guard.SecurityMiddleware, settings=settings)  # headers, auth
    # The $wishes page is drawn from the JSON document the security layer audited.
    app.add_middleware(HtmlAnswerMiddleware)
    # Outermost: the security layer reads answers as JSON; XML is made after it.
    app.add_middleware(XmlAnswerMiddleware)
    return app


def from_environment() -> FastAPI:
    """The app with settings from EOLC_* variables: ``uvicorn --factory`` (e.g. for TLS)."""
    return create_app(Settings())


def worker_app() -> FastAPI:
    """One `serve --workers N` process: settings from the EOLC_* variables its parent set."""
    from eolc_fhir.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_level)
    return create_app(settings)
