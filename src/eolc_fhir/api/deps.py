"""FastAPI dependencies shared by the routers.

All are ``async def``: FastAPI runs a plain ``def`` dependency in a worker thread,
which costs more than the dependency itself on every request.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Request

from eolc_fhir.api.scope import Scope, header
from eolc_fhir.config import Settings
from eolc_fhir.fhir.errors import InvalidRequest, NotFound
from eolc_fhir.fhir.ids import is_valid_id
from eolc_fhir.fhir.models import is_resource_type, not_r4_type, resource_types
from eolc_fhir.services.context import ServerContext

__all__ = ["Ctx", "BaseUrl", "ResourceType", "ResourceId", "get_ctx", "base_url_of",
           "base_url_for", "RESOURCE_TYPE_PATTERN"]

RESOURCE_TYPE_PATTERN = "^(" + "|".join(sorted(resource_types())) + ")$"


async def get_ctx(request: Request) -> ServerContext:
    ctx: ServerContext = request.app.state.ctx
    return ctx


async def base_url_of(request: Request) -> str:
    ctx: ServerContext = request.app.state.ctx
    return base_url_for(ctx.settings, request.scope)


def base_url_for(settings: Settings, scope: Scope) -> str:
    """EOLC_BASE_URL, else the request's (Starlette's answer, remembered per scheme, Host,
    server and root path: the only parts of the request it depends on)."""
    if settings.base_url:
        return settings.base_url.rstrip("/")
    key = (scope.get("scheme"), header(scope, b"host"), scope.get("server"),
           scope.get("app_root_path", scope.get("root_path", "")))
    found = _BASES.get(key)
    if found is None:
        if len(_BASES) >= 64:
            _BASES.clear()
        found = _BASES[key] = str(Request(scope).base_url).rstrip("/")
    return found


_BASES: dict[tuple[Any, ...], str] = {}


async def _resource_type(resource_type: Annotated[str, Path()]) -> str:
    if not is_resource_type(resource_type):
        raise NotFound(not_r4_type(resource_type),
                       code="not-supported")
    return resource_type


async def _resource_id(resource_id: Annotated[str, Path()]) -> str:
    if not is_valid_id(resource_id):
        raise InvalidRequest(f"'{resource_id}' is not a valid FHIR id", expression="id")
    return resource_id


Ctx = Annotated[ServerContext, Depends(get_ctx)]
BaseUrl = Annotated[str, Depends(base_url_of)]
ResourceType = Annotated[str, Depends(_resource_type)]
ResourceId = Annotated[str, Depends(_resource_id)]
