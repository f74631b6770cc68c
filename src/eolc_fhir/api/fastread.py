"""Lean paths for the hottest requests: read by id, search by type, Patient/$wishes.

PERF-FLOOR.md: FastAPI's routing and dependency solving cost about as much
as a bare Starlette request, and aiosqlite several times a direct lookup.
This ASGI middleware answers the three requests crews and EHRs make most
straight from the services, in front of FastAPI:

- ``GET [type]/[id]``: the stored bytes of a live resource
  (``Database.read_current``);
- ``GET [type]?params``: ``services.search.search_type``, as the route does;
- ``GET Patient/$wishes?identifier=…``: ``services.wishes``, with the same
  operation checks and audit hooks as the route.

Anything else, and every answer that is not a plain 200 (unknown ids, 404,
410, 400 for a bad parameter, conditional requests, ``_format``/``_pretty``),
is handed to the full stack, which gives the same answers with its
OperationOutcomes; a database that cannot answer (``ServiceUnavailable``)
leaves as an exception, which the security middleware answers with its 503.
When authentication is on, the guard the security layer registers
(``ctx.extras["fast_guard"]``) must admit the request exactly as the route's
authorisation would; without a guard the lean paths stay off.
The security middleware around this one still filters Bundles and audits.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from eolc_fhir.api.deps import base_url_for
from eolc_fhir.api.responses import REVALIDATE, choose_media_type, wants_lenient
from eolc_fhir.api.scope import Scope, header
from eolc_fhir.fhir.errors import FhirError, ServiceUnavailable
from eolc_fhir.fhir.ids import ID_PATTERN
from eolc_fhir.fhir.instant import to_http_date
from eolc_fhir.fhir.models import is_resource_type
from eolc_fhir.security.principal import current_principal
from eolc_fhir.services import operation_hooks as hooks
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.search import query as search_service
from eolc_fhir.services.wishes import document as wishes_service

__all__ = ["FastReadMiddleware"]

_READ = re.compile(rf"^/([A-Z][A-Za-z]{{1,63}})/({ID_PATTERN})$")
_TYPE = re.compile(r"^/([A-Z][A-Za-z]{1,63})$")
_WISHES = "/Patient/$wishes"
_FULL_STACK_PARAMS = ("_format", "_pretty")  # the route's response shaping handles these


class FastReadMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and \
                await self._answer(scope, send):
            return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, send: Any) -> bool:
        ctx: ServerContext | None = getattr(scope["app"].state, "ctx", None)
        if ctx is None or header(scope, b"if-none-match") is not None:
            return False
        path, query = scope["path"], scope["query_string"]
        if not query:
            match = _READ.match(path)
            return match is not None and await _read(ctx, scope, send, *match.groups())
        params = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        if any(name in _FULL_STACK_PARAMS for name, _ in params):
            return False
        if path == _WISHES:
            return await _wishes(ctx, scope, send, params)
        match = _TYPE.match(path)
        return match is not None and await _search(ctx, scope, send, match.group(1), params)


async def _admitted(ctx: ServerContext, scope: Scope, interaction: str, rtype: str,
                    rid: str | None) -> bool:
    guard = ctx.extras.get("fast_guard")
    if guard is None:
        return bool(ctx.settings.insecure_dev)
    return bool(await guard(scope, interaction, rtype, rid))


async def _read(ctx: ServerContext, scope: Scope, send: Any, rtype: str,
                rid: str) -> bool:
    if not is_resource_type(rtype) or not await _admitted(ctx, scope, "read", rtype, rid):
        return False
    try:
        row = await ctx.db.read_current(rtype, rid)
    except LookupError:
        return False
    if row is None or row[2]:
        return False  # unknown or deleted: the full stack explains why
    version, last_updated_us, _deleted, content = row
    await _send(send, scope, bytes(content), [
        (b"etag", f'W/"{version}"'.encode()),
        (b"last-modified", to_http_date(last_updated_us).encode()),
    ])
    return True


async def _search(ctx: ServerContext, scope: Scope, send: Any, rtype: str,
                  params: list[tuple[str, str]]) -> bool:
    if not is_resource_type(rtype) or \
            not await _admitted(ctx, scope, "search-type", rtype, None):
        return False
    lenient = wants_lenient(header(scope, b"prefer") or "")
    try:
        body = await search_service.search_type(ctx, rtype, params, lenient=lenient,
                                                base_url=base_url_for(ctx.settings, scope))
    except ServiceUnavailable:
        raise  # 503 from the security middleware; the route would wait for the same database
    except FhirError:
        return False  # the route answers with the OperationOutcome
    await _send(send, scope, body, [])
    return True


async def _wishes(ctx: ServerContext, scope: Scope, send: Any,
                  params: list[tuple[str, str]]) -> bool:
    if len(params) != 1 or params[0][0] != "identifier" or \
            not await _admitted(ctx, scope, "operation", "Patient", None):
        return False
    call = hooks.OperationCall("wishes", current_principal(), [], params[0][1])
    try:
        await hooks.check(ctx, call)
        answer = await wishes_service.wishes_by_identifier(
            ctx, params[0][1], base_url=base_url_for(ctx.settings, scope))
    except ServiceUnavailable:
        raise
    except FhirError:
        return False  # refused, 400 or 404: the route answers and audits
    assert answer.body is not None, "no If-None-Match on this path"
    call.status, call.patient_ids, call.warnings = 200, answer.patient_ids, answer.warnings
    await hooks.audit(ctx, call)
    await _send(send, scope, answer.body, [(b"etag", answer.etag.encode()),
                                          (b"cache-control", REVALIDATE.encode())])
    return True


async def _send(send: Any, scope: Scope, body: bytes,
                headers: list[tuple[bytes, bytes]]) -> None:
    media_type = choose_media_type("", header(scope, b"accept") or "")
    await send({
        "type": "http.response.start",
        "status": 200,
        "headers": [
            (b"content-type", media_type.encode()),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
    })
    await send({"type": "http.response.body", "body": body})
