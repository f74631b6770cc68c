"""Content negotiation and body limits, as ASGI middleware in front of the routes.

Refusals happen before any route runs: a format other than FHIR JSON or XML
asked for → 406 (HTML may be asked of ``Patient/$wishes`` alone: ``api.html_format``),
another media type sent → 415 (a form body too, except where
a form is the protocol: ``POST [type]/_search`` and the token endpoint), a
body over the limit → 413. Each is an OperationOutcome like every other
error. An XML body (POST, PUT, and a FHIRPath Patch's Parameters) is read into
FHIR JSON here, under the same limit (``api.xml_format``); its answer is
written back as XML further out. A JSON Patch body's media type is checked by
the patch service (a JSON Patch is not a FHIR resource).
"""

from __future__ import annotations

from typing import Any

from eolc_fhir.api.errors import error_response
from eolc_fhir.api.html_format import HTML_FORMATS, is_html_path, prefers_html
from eolc_fhir.api.scope import Scope, header
from eolc_fhir.api.xml_format import (
    JSON_FORMATS,
    XML_BODY_METHODS,
    XML_BODY_TYPES,
    XML_FORMATS,
    accept_preference,
    format_param,
    sends_xml,
    xml_request,
)
from eolc_fhir.fhir.errors import (
    FhirError,
    NotAcceptable,
    PayloadTooLarge,
    UnsupportedMediaType,
)

__all__ = ["NegotiationMiddleware"]

_BODY_TYPES = {"application/fhir+json", "application/json", "application/json+fhir"}
_FORM = "application/x-www-form-urlencoded"
_FORM_PREFIXES = ("/auth/",)
# Bulk export files are NDJSON: a bulk client may ask for them by that name.
_EXPORT_FILES = "/_export/"
_NDJSON = {"application/fhir+ndjson", "application/ndjson", "ndjson"}
_NOT_FHIR = "/docs"  # the API docs page and its files: HTML, CSS, script, whatever is asked


def _takes_form(scope: Scope) -> bool:
    """A form body is the protocol of search by POST and of the OAuth token endpoint."""
    path: str = scope["path"]
    return path.endswith("/_search") or path.startswith(_FORM_PREFIXES)


def _acceptable(accept: str, path: str = "") -> bool:
    """Whether the Accept header allows FHIR JSON or XML (or NDJSON for export files, HTML
    for the $wishes summary)."""
    if accept_preference(accept) is not None:
        return True
    if (is_html_path(path) and prefers_html(accept)) or path.startswith(_NOT_FHIR):
        return True
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in ("*/*", "application/*", ""):
            return True
        if media in _NDJSON and path.startswith(_EXPORT_FILES):
            return True
    return False


class NegotiationMiddleware:
    def __init__(self, app: Any, max_body_bytes: int, max_depth: int = 64) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_depth = max_depth  # of XML bodies, as EOLC_MAX_JSON_DEPTH is of JSON ones

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await error_response(refusal)(scope, receive, send)
            return
        if scope["method"] in XML_BODY_METHODS and sends_xml(scope):
            try:
                scope, receive = await xml_request(scope, self._limited(receive), self.max_depth)
            except FhirError as error:
                await error_response(error)(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        await self.app(scope, self._limited(receive), send)

    def _refusal(self, scope: Scope) -> FhirError | None:
        fmt = format_param(scope)
        if fmt is not None and fmt not in JSON_FORMATS and fmt not in XML_FORMATS \
                and not (fmt in HTML_FORMATS and is_html_path(scope["path"])):
            return NotAcceptable(
                f"_format '{fmt}' is not supported: this server speaks FHIR JSON and XML")
        accept = header(scope, b"accept") or ""
        if accept and fmt is None and not _acceptable(accept, scope["path"]):
            return NotAcceptable(
                f"cannot produce '{accept}': this server speaks FHIR JSON and XML")
        length = header(scope, b"content-length") or ""
        if length.isdigit() and int(length) > self.max_body_bytes:
            return PayloadTooLarge(f"the request body is larger than {self.max_body_bytes} bytes")
        if scope["method"] in ("POST", "PUT"):
            ctype = (header(scope, b"content-type") or "").split(";")[0].strip().lower()
            if ctype and ctype not in _BODY_TYPES and ctype not in XML_BODY_TYPES \
                    and not (ctype == _FORM and _takes_form(scope)):
                return UnsupportedMediaType(
                    f"Content-Type '{ctype}' is not supported here: send the resource as "
                    "application/fhir+json or application/fhir+xml "
                    "(e.g. curl -H 'Content-Type: application/fhir+json')")
        return None

    def _limited(self, receive: Any) -> Any:
        seen = 0
        limit = self.max_body_bytes

        async def wrapped() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
            return message

        return wrapped
