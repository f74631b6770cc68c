"""Build HTTP responses from service results: headers, Prefer, _pretty, media type."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from eolc_fhir.fhir.instant import to_http_date
from eolc_fhir.fhir.outcome import operation_outcome
from eolc_fhir.services.results import Result

__all__ = ["resource_response", "bundle_response", "media_type_for", "prefer_return",
           "return_preference", "result_headers", "result_body", "choose_media_type",
           "wants_lenient", "version_headers", "send_body", "FHIR_JSON", "PLAIN_JSON",
           "REVALIDATE"]

REVALIDATE = "private, no-cache"  # Cache-Control: keep it, but revalidate (If-None-Match)
FHIR_JSON = "application/fhir+json; charset=utf-8"
PLAIN_JSON = "application/json; charset=utf-8"


def choose_media_type(fmt: str, accept: str) -> str:
    """application/json only when the client asked for it and not for fhir+json."""
    if fmt in ("json", "application/json") or (
        "application/json" in accept and "fhir+json" not in accept
    ):
        return PLAIN_JSON
    return FHIR_JSON


def media_type_for(request: Request) -> str:
    return choose_media_type(request.query_params.get("_format", ""),
                             request.headers.get("accept", ""))


def wants_lenient(prefer: str) -> bool:
    """Search ignores unknown parameters unless ``Prefer: handling=strict`` (FHIR R4
    §3.1.1.5: lenient is the default; strict turns them into a 400)."""
    items = prefer.replace(";", ",").split(",")
    return not any(p.strip().replace(" ", "") == "handling=strict" for p in items)


def prefer_return(request: Request) -> str:
    return return_preference(request.headers.get("prefer", ""))


def return_preference(prefer: str) -> str:
    """``Prefer: return=…`` (minimal, representation or OperationOutcome)."""
    for part in prefer.split(";"):
        for item in part.split(","):
            key, _, value = item.strip().partition("=")
            if key.strip().lower() == "return":
                return value.strip().strip('"')
    return "representation"


def _pretty(request: Request, body: bytes) -> bytes:
    if request.query_params.get("_pretty") == "true":
        return orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2)
    return body


def version_headers(version: int, last_updated_us: int) -> dict[str, str]:
    """ETag and Last-Modified of a stored version (names in lower case, as ASGI has them)."""
    return {"etag": f'W/"{version}"', "last-modified": to_http_date(last_updated_us)}


async def send_body(send: Any, media_type: str, body: bytes, headers: dict[str, str], *,
                    status: int = 200) -> None:
    """An answer straight onto the ASGI channel (the lean door's rendering); ``headers``
    named in lower case. An empty body goes without a Content-Type, as a Response's does."""
    raw = [(b"content-type", media_type.encode())] if body else []
    raw += [(b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def result_headers(result: Result, base_url: str) -> dict[str, str]:
    """ETag and Last-Modified of the stored version, and its Location when it is new."""
    stored = result.stored
    if stored is None:
        return {}
    headers = version_headers(stored.version, stored.last_updated_us)
    if result.content_location:
        headers["location"] = (
            f"{base_url}/{stored.resource_type}/{stored.id}/_history/{stored.version}")
    return headers


def result_body(result: Result, wanted: str) -> bytes:
    """What a write answers with, by ``Prefer: return=`` (``wanted``)."""
    stored = result.stored
    if result.status == 204 or wanted == "minimal":
        return b""
    if wanted == "OperationOutcome":
        return orjson.dumps(operation_outcome(result.warnings))
    if result.body is not None:
        return result.body
    if stored is not None and stored.content is not None:
        return stored.content
    return b""


def resource_response(request: Request, result: Result, base_url: str) -> Response:
    headers = result_headers(result, base_url)
    body = result_body(result, prefer_return(request))
    if not body:
        return Response(status_code=result.status, headers=headers)
    return Response(_pretty(request, body), status_code=result.status,
                    media_type=media_type_for(request), headers=headers)


def bundle_response(request: Request, body: bytes, status: int = 200,
                    headers: dict[str, str] | None = None) -> Response:
    return Response(_pretty(request, body), status_code=status,
                    media_type=media_type_for(request), headers=headers)
