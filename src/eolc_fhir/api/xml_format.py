"""FHIR XML on the wire: which format a request wants, and its answer rewritten as XML.

Everything inside the server speaks JSON. An XML request body is read into
JSON by ``NegotiationMiddleware`` (``xml_request``) before any route sees it;
``XmlAnswerMiddleware`` (outermost, so the security layer still reads JSON)
turns a FHIR JSON answer, errors included, into XML when the client asked
for XML: ``_format`` first, then the ``Accept`` header by its q-values, then,
with no preference at all, the format of the request body (POST, PUT). A JSON request
pays one header scan for this and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import orjson

from eolc_fhir.api.held_answer import HeldJsonAnswer
from eolc_fhir.api.scope import Scope, header
from eolc_fhir.fhir import xml
from eolc_fhir.fhir.errors import InvalidRequest, NotAcceptable
from eolc_fhir.fhir.outcome import operation_outcome

__all__ = ["XmlAnswerMiddleware", "format_param", "accept_preference", "first_ranked", "wants_xml",
           "xml_request", "sends_xml", "XML_BODY_METHODS", "JSON_FORMATS", "XML_FORMATS",
           "XML_BODY_TYPES", "FHIR_XML"]

JSON_FORMATS = frozenset({"json", "application/json", "application/fhir+json",
                          "application/json+fhir"})
XML_FORMATS = frozenset({"xml", "text/xml", "application/xml", "application/fhir+xml",
                         "application/xml+fhir"})
XML_BODY_TYPES = frozenset({"application/fhir+xml", "application/xml", "text/xml",
                            "application/xml+fhir"})
FHIR_XML = "application/fhir+xml; charset=utf-8"
_NOT_XML = ("the answer holds characters that XML 1.0 cannot carry: ask for it as "
            "application/fhir+json")
XML_BODY_METHODS = ("POST", "PUT", "PATCH")  # the bodies read as XML (a FHIRPath Patch too)


def format_param(scope: Scope) -> str | None:
    """``_format`` of the query, lower case; a bare ``+`` (``fhir+xml`` unencoded) kept."""
    query: bytes = scope.get("query_string", b"")
    if b"_format" not in query:
        return None
    value = dict(parse_qsl(query.decode("latin-1"))).get("_format")
    if value is None:
        return None
    return value.split(";")[0].strip().lower().replace(" ", "+")


def first_ranked(accept: str, kinds: Mapping[str, str]) -> str | None:
    """The kind (``kinds``: media type → kind) of the Accept header's best-ranked media type
    among those ``kinds`` names (by q, then order; q=0 refuses); None when it names none."""
    best: tuple[float, int, str] | None = None
    for index, part in enumerate(accept.split(",")):
        media, *params = (p.strip().lower() for p in part.split(";"))
        kind = kinds.get(media)
        if kind is None:
            continue
        quality = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        if quality > 0 and (best is None or (quality, -index) > (best[0], best[1])):
            best = (quality, -index, kind)
    return None if best is None else best[2]


_FHIR_KINDS = {**{m: "xml" for m in XML_FORMATS}, **{m: "json" for m in JSON_FORMATS}}


def accept_preference(accept: str) -> str | None:
    """"xml" or "json": the FHIR format the Accept header ranks first (by q, then order);
    None when it names neither."""
    return first_ranked(accept, _FHIR_KINDS)


def wants_xml(scope: Scope) -> bool:
    fmt = format_param(scope)
    if fmt is not None:
        return fmt in XML_FORMATS
    accept = header(scope, b"accept")
    if accept:
        if "xml" not in accept:  # the common JSON request: no parsing of q-values
            return "json" not in accept and _posts_xml(scope)
        preference = accept_preference(accept)
        if preference is not None:
            return preference == "xml"
    return _posts_xml(scope)


def _posts_xml(scope: Scope) -> bool:
    return scope["method"] in XML_BODY_METHODS and sends_xml(scope)


def sends_xml(scope: Scope) -> bool:
    ctype = header(scope, b"content-type")
    return ctype is not None and ctype.split(";")[0].strip().lower() in XML_BODY_TYPES


async def xml_request(scope: Scope, receive: Any, max_depth: int) -> tuple[Scope, Any]:
    """The scope and receive of the same request with its XML body read into FHIR JSON."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise InvalidRequest("the client went away before sending the body")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    raw = b"".join(chunks)
    # No body (an operation called by POST without one) stays no body, as with JSON.
    body = orjson.dumps(xml.from_xml(raw, max_depth=max_depth)) if raw.strip() else b""
    headers = [(k, v) for k, v in scope["headers"]
               if k not in (b"content-type", b"content-length")]
    headers += [(b"content-type", b"application/fhir+json"),
                (b"content-length", str(len(body)).encode())]
    sent = False

    async def replay() -> Any:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return {**scope, "headers": headers}, replay


class XmlAnswerMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not wants_xml(scope):
            await self.app(scope, receive, send)
            return
        pretty = b"_pretty=true" in scope.get("query_string", b"")
        await self.app(scope, receive, _XmlAnswer(send, pretty).send)


class _XmlAnswer(HeldJsonAnswer):
    """Holds a JSON answer until its last byte, then sends it as XML."""

    def __init__(self, send: Any, pretty: bool) -> None:
        super().__init__(send)
        self.pretty = pretty

    async def _flush(self) -> None:
        assert self.start is not None
        body = b"".join(self.chunks)
        headers = list(self.start.get("headers", []))
        try:
            converted = self._as_xml(body)
        # lxml: a character XML 1.0 cannot carry (e.g. U+FFFE); KeyError: not an R4 type.
        except (ValueError, KeyError):
            self.start = {**self.start, "status": NotAcceptable.status}
            converted = xml.to_xml(operation_outcome(NotAcceptable(_NOT_XML).issues))
        if converted is not None:
            body = converted
            headers = [(k, v) for k, v in headers if k not in (b"content-type",
                                                               b"content-length")]
            headers += [(b"content-type", FHIR_XML.encode()),
                        (b"content-length", str(len(body)).encode())]
        await self.downstream({**self.start, "headers": headers})
        await self.downstream({"type": "http.response.body", "body": body})

    def _as_xml(self, body: bytes) -> bytes | None:
        """The FHIR resource in XML; None for a body that is not one (e.g. /openapi.json)."""
        if not body.startswith(b"{"):
            return None
        value = orjson.loads(body)
        if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
            return None
        return xml.to_xml(value, pretty=self.pretty)
