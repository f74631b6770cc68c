"""Every non-2xx response is an OperationOutcome: one place maps errors to them.

The status and issue code of every answer come from ``fhir.errors`` (the
one mapping). An unexpected exception becomes a 500 that says nothing of its
cause; the log gets its traceback (types and frames) without any exception's
message, which may quote patient data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute, Match

from eolc_fhir.fhir.errors import (
    FhirError,
    InternalError,
    InvalidRequest,
    Issue,
    error_for_status,
)
from eolc_fhir.fhir.outcome import operation_outcome
from eolc_fhir.logs import crash_report

__all__ = ["install_error_handlers", "outcome_response", "error_response", "crash_response",
           "crash_report", "allowed_methods", "INTERNAL_ERROR_TEXT"]

log = logging.getLogger("eolc_fhir.api")
INTERNAL_ERROR_TEXT = "internal server error; the incident has been logged"


def outcome_response(status: int, issues: list[Issue],
                     headers: dict[str, str] | None = None) -> Response:
    body = orjson.dumps(operation_outcome(issues))
    return Response(body, status_code=status, media_type="application/fhir+json",
                    headers=headers)


def error_response(error: FhirError) -> Response:
    return outcome_response(error.status, error.issues, error.headers)


def crash_response(exc: BaseException, where: str) -> Response:
    """The answer to an exception that escaped: its own OperationOutcome for a FhirError
    (e.g. 503 when the database is unavailable), else a logged 500."""
    if isinstance(exc, FhirError):
        return error_response(exc)
    log.error("internal error in %s: %s", where, crash_report(exc))
    return error_response(InternalError(INTERNAL_ERROR_TEXT))


async def _fhir_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FhirError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    text = str(exc.detail) if exc.detail else "request failed"
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        text = "no such endpoint: " + text if text != "Not Found" else "no such endpoint"
    elif exc.status_code == 405:
        text, headers["Allow"] = _not_allowed(request)
    return error_response(error_for_status(exc.status_code, text, headers))


def allowed_methods(request: Request,
                    keep: Callable[[BaseRoute], bool] = lambda _route: True) -> set[str]:
    """Every method that some route (of those ``keep`` accepts) takes on this path."""
    allowed: set[str] = set()
    for route in _leaf_routes(request.app.router.routes):
        if keep(route) and route.matches(request.scope)[0] != Match.NONE:
            allowed |= set(getattr(route, "methods", None) or ())
    return allowed


def _leaf_routes(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's include_router
        if included is not None:
            yield from _leaf_routes(included.routes)
        else:
            yield route


def _not_allowed(request: Request) -> tuple[str, str]:
    """What a 405 says, and its Allow: every method of the path (Starlette's own Allow
    names only the first matching route's)."""
    allow = ", ".join(sorted(allowed_methods(request)))
    return f"{request.method} is not allowed on {request.url.path} (allowed: {allow})", allow


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    issues = [Issue("error", "invalid", _describe(err), (_where(err),)) for err in exc.errors()]
    return error_response(InvalidRequest(issues=issues))


def _describe(err: dict[str, Any]) -> str:
    return f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}"


def _where(err: dict[str, Any]) -> str:
    loc = [str(p) for p in err.get("loc", ()) if p not in ("path", "query", "header", "body")]
    return ".".join(loc) or "request"


async def _unexpected(request: Request, exc: Exception) -> Response:
    return crash_response(exc, f"{request.method} {request.url.path}")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(FhirError, _fhir_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
