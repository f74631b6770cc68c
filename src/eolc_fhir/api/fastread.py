"""A lean path for the hottest request, GET [type]/[id], on SQLite.

PERF-FLOOR.md: FastAPI routing plus aiosqlite costs several times a direct
primary-key lookup. This ASGI middleware answers a plain read of a live
resource straight from ``Database.fast_read`` (stored bytes, no parsing)
and hands everything else — 404, 410, conditional reads, queries — to the
full stack, which gives the same answers. When authentication is on, a
guard registered by the security layer (``ctx.extras["fast_read_guard"]``)
must admit the request; without a guard the lean path stays off.
"""

from __future__ import annotations

import re
from typing import Any

from eolc_fhir.api.responses import choose_media_type
from eolc_fhir.fhir.instant import to_http_date
from eolc_fhir.fhir.models import is_resource_type
from eolc_fhir.services.context import ServerContext

__all__ = ["FastReadMiddleware"]

_PATH = re.compile(r"^/([A-Z][A-Za-z]{1,63})/([A-Za-z0-9\-.]{1,64})$")


class FastReadMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope["query_string"]:
            match = _PATH.match(scope["path"])
            if match and await self._answer(scope, send, match.group(1), match.group(2)):
                return
        await self.app(scope, receive, send)

    async def _answer(self, scope: dict[str, Any], send: Any, rtype: str, rid: str) -> bool:
        ctx: ServerContext | None = getattr(scope["app"].state, "ctx", None)
        if ctx is None or not is_resource_type(rtype):
            return False
        accept = ""
        for key, value in scope["headers"]:
            if key == b"if-none-match":
                return False
            if key == b"accept":
                accept = value.decode("latin-1")
        guard = ctx.extras.get("fast_read_guard")
        if guard is None and not ctx.settings.insecure_dev:
            return False
        try:
            row = ctx.db.fast_read(rtype, rid)
        except LookupError:
            return False
        if row is None or row[2]:
            return False  # unknown or deleted: the full stack explains why
        version, last_updated_us, _deleted, content = row
        if guard is not None and not await guard(scope, rtype, rid, content):
            return False
        await _send(send, bytes(content), version, last_updated_us,
                    choose_media_type("", accept))
        return True


async def _send(send: Any, body: bytes, version: int, last_updated_us: int,
                media_type: str) -> None:
    await send({
        "type": "http.response.start",
        "status": 200,
        "headers": [
            (b"content-type", media_type.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"etag", f'W/"{version}"'.encode()),
            (b"last-modified", to_http_date(last_updated_us).encode()),
        ],
    })
    await send({"type": "http.response.body", "body": body})
