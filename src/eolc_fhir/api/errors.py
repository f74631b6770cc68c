"""Every non-2xx response is an OperationOutcome: one place maps errors to them."""

from __future__ import annotations

import logging
import traceback
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from eolc_fhir.fhir.errors import FhirError, Issue
from eolc_fhir.fhir.outcome import operation_outcome

__all__ = ["install_error_handlers", "outcome_response"]

log = logging.getLogger("eolc_fhir.api")

_STATUS_CODES = {
    400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
    406: "not-supported", 409: "conflict", 410: "deleted", 412: "conflict", 413: "too-costly",
    415: "not-supported", 422: "processing", 429: "throttled",
}


def outcome_response(status: int, issues: list[Issue],
                     headers: dict[str, str] | None = None) -> Response:
    body = orjson.dumps(operation_outcome(issues))
    return Response(body, status_code=status, media_type="application/fhir+json",
                    headers=headers)


async def _fhir_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FhirError)
    return outcome_response(exc.status, exc.issues, exc.headers)


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "exception")
    text = str(exc.detail) if exc.detail else "request failed"
    if exc.status_code == 404:
        text = "no such endpoint: " + text if text != "Not Found" else "no such endpoint"
    headers = dict(exc.headers or {})
    return outcome_response(exc.status_code, [Issue("error", code, text)], headers)


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    issues = [Issue("error", "invalid", _describe(err), (_where(err),)) for err in exc.errors()]
    return outcome_response(400, issues)


def _describe(err: dict[str, Any]) -> str:
    return f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}"


def _where(err: dict[str, Any]) -> str:
    loc = [str(p) for p in err.get("loc", ()) if p not in ("path", "query", "header", "body")]
    return ".".join(loc) or "request"


async def _unexpected(_request: Request, exc: Exception) -> Response:
    # Where it happened, but not the exception's text: that may quote patient data.
    frames = traceback.extract_tb(exc.__traceback__, limit=-8)
    where = " <- ".join(f"{f.filename}:{f.lineno} {f.name}" for f in reversed(frames))
    log.error("internal error: %s at %s", type(exc).__name__, where)
    issue = Issue("fatal", "exception", "internal server error; the incident has been logged")
    return outcome_response(500, [issue])


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(FhirError, _fhir_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
