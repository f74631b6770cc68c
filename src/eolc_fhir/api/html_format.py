"""The $wishes summary as a printable HTML page: which requests want it, and the rewrite.

Only ``Patient/$wishes`` (both forms) speaks HTML, asked for by ``_format=html``
(or ``text/html``) or by an ``Accept`` header that ranks ``text/html`` above
every FHIR format (a browser's does). The operation itself runs as for JSON,
through either front door, with the same authorization, visibility and audit;
``HtmlAnswerMiddleware`` (outside the security layer, which reads answers as
JSON) then renders the document Bundle with ``eolc_fhir.web``. An error
answer becomes a small HTML page with the same status and headers (e.g.
``WWW-Authenticate``) whose text is the OperationOutcome's diagnostics. A 304
passes unchanged: the ETag is the document's, the page is one of its forms
(``Vary: Accept``).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from eolc_fhir.api.held_answer import HeldJsonAnswer
from eolc_fhir.api.scope import Scope, header
from eolc_fhir.api.xml_format import JSON_FORMATS, XML_FORMATS, first_ranked, format_param
from eolc_fhir.web.render import PAGE_CSP, render_document_page, render_error_page

__all__ = ["HtmlAnswerMiddleware", "HTML_FORMATS", "is_html_path", "wants_html",
           "prefers_html"]

log = logging.getLogger("eolc_fhir")
HTML_FORMATS = frozenset({"html", "text/html", "application/xhtml+xml"})
_KINDS = {**{m: "fhir" for m in JSON_FORMATS | XML_FORMATS}, **{m: "html" for m in HTML_FORMATS}}
_HTML = b"text/html; charset=utf-8"
_REPLACED = (b"content-type", b"content-length", b"content-security-policy", b"vary")
_WISHES = "/$wishes"


def is_html_path(path: str) -> bool:
    """``/Patient/$wishes`` or ``/Patient/[id]/$wishes``: the only answers given as HTML."""
    return path.endswith(_WISHES) and path.startswith("/Patient/") and path.count("/") <= 3


def prefers_html(accept: str) -> bool:
    """Whether the Accept header ranks an HTML type above every FHIR format (q, then order)."""
    return first_ranked(accept, _KINDS) == "html"


def wants_html(scope: Scope) -> bool:
    if not is_html_path(scope["path"]):
        return False
    fmt = format_param(scope)
    if fmt is not None:
        return fmt in HTML_FORMATS
    accept = header(scope, b"accept")
    return accept is not None and "htm" in accept and prefers_html(accept)


class HtmlAnswerMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not wants_html(scope):
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, _HtmlAnswer(send).send)


class _HtmlAnswer(HeldJsonAnswer):
    """Holds a JSON answer until its last byte, then sends it as an HTML page."""

    async def _flush(self) -> None:
        assert self.start is not None
        status = int(self.start["status"])
        page = _page(status, b"".join(self.chunks))
        if page is None:  # no page can be made of it: a 500 that says only that
            status, page = 500, render_error_page(500, ["The summary could not be drawn."])
        body = page.encode()
        headers = [(k, v) for k, v in self.start.get("headers", []) if k not in _REPLACED]
        headers += [(b"content-type", _HTML), (b"content-length", str(len(body)).encode()),
                    (b"content-security-policy", PAGE_CSP.encode()), (b"vary", b"Accept")]
        await self.downstream({**self.start, "status": status, "headers": headers})
        await self.downstream({"type": "http.response.body", "body": body})


def _page(status: int, body: bytes) -> str | None:
    try:
        value = orjson.loads(body)
        if status < 400:
            return render_document_page(value)
        issues = value.get("issue") or []
        return render_error_page(status, [str(i.get("diagnostics") or i.get("code", ""))
                                          for i in issues if isinstance(i, dict)])
    except Exception as exc:  # the page must not leak a traceback or record text
        log.error("the $wishes page could not be drawn (%s)", type(exc).__name__)
        return None
