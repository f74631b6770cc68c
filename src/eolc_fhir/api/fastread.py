"""The lean front door: the hottest requests answered before FastAPI's routing.

docs/performance.md: FastAPI's routing and dependency solving cost about as much
as a bare Starlette request. This ASGI middleware is a second, thinner front
door onto the same pipeline as the routes, for four requests:

- ``GET [type]/[id]``                  -> ``services.resources.crud.read``
- ``GET [type]?params``                -> ``services.search.query.search_type``
- ``GET Patient/$wishes?identifier=…`` -> ``services.wishes.document.wishes_by_identifier``
- ``POST [type]`` (no query, no ``If-None-Exist``) -> ``services.resources.crud.create``

Each runs the same steps as its route, through the same functions: the one
authorization step (``api.guard.authorize``), the route's service, and the
same rendering of its answer or of its error as an OperationOutcome.
Authentication, visibility of Bundle entries and the audit record happen
around both doors (``api.guard.SecurityMiddleware``). What this door does not
shape (``_format``, ``_pretty``, ``If-None-Match``, a conditional create, other
operations) goes on to the routes. On a create the routing and dependency solving
this door skips were about a fifth of the server's CPU (docs/performance.md).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect

from eolc_fhir.api.deps import base_url_for
from eolc_fhir.api.errors import error_response
from eolc_fhir.api.guard import authorize
from eolc_fhir.api.operations import wishes_headers
from eolc_fhir.api.responses import (
    choose_media_type,
    result_body,
    result_headers,
    return_preference,
    send_body,
    version_headers,
    wants_lenient,
)
from eolc_fhir.api.scope import Scope, header
from eolc_fhir.fhir.errors import FhirError
from eolc_fhir.fhir.ids import ID_PATTERN
from eolc_fhir.fhir.interactions import Target
from eolc_fhir.fhir.models import is_resource_type
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.resources import crud
from eolc_fhir.services.resources.intake import read_body
from eolc_fhir.services.search import query as search_service
from eolc_fhir.services.wishes import document as wishes_service

__all__ = ["FastReadMiddleware"]

_READ = re.compile(rf"^/([A-Z][A-Za-z]{{1,63}})/({ID_PATTERN})$")
_TYPE = re.compile(r"^/([A-Z][A-Za-z]{1,63})$")
_WISHES = "/Patient/$wishes"
_FULL_STACK_PARAMS = ("_format", "_pretty")  # the route's response shaping handles these
_WISHES_TARGET = Target("operation", "Patient", None, "wishes")

Answer = tuple[bytes, dict[str, str]]
Work = tuple[Target, Callable[[], Awaitable[Answer]]]
_CREATED = 201


class FastReadMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "POST"):
            ctx: ServerContext | None = getattr(scope["app"].state, "ctx", None)
            if ctx is not None:
                if scope["method"] == "GET":
                    work = _route(ctx, scope)
                else:
                    work = _route_create(ctx, scope, receive)
                if work is not None:
                    await _serve(ctx, scope, receive, send, *work)
                    return
        await self.app(scope, receive, send)


def _route(ctx: ServerContext, scope: Scope) -> Work | None:
    """The interaction and its service call, when this door answers the request."""
    if header(scope, b"if-none-match") is not None:
        return None
    path, query = scope["path"], scope["query_string"]
    if not query:
        match = _READ.match(path)
        if match is None or not is_resource_type(match.group(1)):
            return None
        rtype, rid = match.groups()
        return Target("read", rtype, rid), lambda: _read(ctx, rtype, rid)
    params = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    if any(name in _FULL_STACK_PARAMS for name, _ in params):
        return None
    if path == _WISHES:
        if len(params) != 1 or params[0][0] != "identifier":
            return None
        return _WISHES_TARGET, lambda: _wishes(ctx, scope, params[0][1])
    match = _TYPE.match(path)
    if match is None or not is_resource_type(match.group(1)):
        return None
    rtype = match.group(1)
    return Target("search-type", rtype), lambda: _search(ctx, scope, rtype, params)


def _route_create(ctx: ServerContext, scope: Scope, receive: Any) -> Work | None:
    """``POST [type]``: a plain create (a conditional one, or any query, takes the routes)."""
    if scope["query_string"] or header(scope, b"if-none-exist") is not None:
        return None
    match = _TYPE.match(scope["path"])
    if match is None or not is_resource_type(match.group(1)):
        return None
    rtype = match.group(1)
    return Target("create", rtype), lambda: _create(ctx, scope, receive, rtype)


async def _serve(ctx: ServerContext, scope: Scope, receive: Any, send: Any, target: Target,
                 produce: Callable[[], Awaitable[Answer]]) -> None:
    try:
        if ctx.security is not None:  # (without it, authorize allows everything)
            await authorize(ctx, target)
        body, headers = await produce()
    except FhirError as error:  # rendered as the routes' error handler renders it
        await error_response(error)(scope, receive, send)
        return
    status = _CREATED if target.interaction == "create" else 200
    await send_body(send, choose_media_type("", header(scope, b"accept") or ""), body, headers,
                    status=status)


async def _read(ctx: ServerContext, rtype: str, rid: str) -> Answer:
    stored = (await crud.read(ctx, rtype, rid)).stored
    assert stored is not None and stored.content is not None
    return stored.content, version_headers(stored.version, stored.last_updated_us)


async def _search(ctx: ServerContext, scope: Scope, rtype: str,
                  params: list[tuple[str, str]]) -> Answer:
    lenient = wants_lenient(header(scope, b"prefer") or "")
    body = await search_service.search_type(ctx, rtype, params, lenient=lenient,
                                            base_url=base_url_for(ctx.settings, scope))
    return body, {}


async def _wishes(ctx: ServerContext, scope: Scope, identifier: str) -> Answer:
    answer = await wishes_service.wishes_by_identifier(
        ctx, identifier, base_url=base_url_for(ctx.settings, scope))
    assert answer.body is not None, "no If-None-Match on this door"
    return answer.body, wishes_headers(answer)


async def _create(ctx: ServerContext, scope: Scope, receive: Any, rtype: str) -> Answer:
    """The create route's steps: the body, the same service call, the same answer."""
    resource = read_body(ctx, await _body(receive), rtype)
    result = await crud.create(ctx, resource, None, base_check="done")
    wanted = return_preference(header(scope, b"prefer") or "")
    return (result_body(result, wanted),
            result_headers(result, base_url_for(ctx.settings, scope)))


async def _body(receive: Any) -> bytes:
    """The whole request body (NegotiationMiddleware's limit raises past its size)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
