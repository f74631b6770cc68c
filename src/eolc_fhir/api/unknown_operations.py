"""Operations this server does not define: one clear OperationOutcome, whatever the method.

Without these routes ``GET /$export`` was searched as a resource type and
``GET /Patient/$foo`` read as an id ("'$foo' is not a valid FHIR id"). Like
HAPI FHIR, an unknown operation is a 400 with issue code ``not-supported``;
a known one asked with another method is a 405 with ``Allow``. Included after
every router that defines an operation and before those whose patterns would
take ``$name`` for a type or an id.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from eolc_fhir.api.errors import allowed_methods
from eolc_fhir.fhir.errors import InvalidRequest, MethodNotAllowed

__all__ = ["router"]

router = APIRouter()
_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]


@router.api_route("/${operation}", methods=_METHODS, include_in_schema=False)
@router.api_route("/{resource_type}/${operation}", methods=_METHODS, include_in_schema=False)
@router.api_route("/{resource_type}/{resource_id}/${operation}", methods=_METHODS,
                  include_in_schema=False)
async def unknown_operation(request: Request, operation: str) -> Response:
    allowed = allowed_methods(request, lambda route: "$" in getattr(route, "path", "") and
                              getattr(route, "endpoint", None) is not unknown_operation)
    if allowed:
        allow = ", ".join(sorted(allowed))
        raise MethodNotAllowed(f"${operation} is not invoked with {request.method} here "
                               f"(allowed: {allow})", headers={"Allow": allow})
    raise InvalidRequest(f"the operation ${operation} is not supported by this server "
                         "(/metadata lists the operations it supports)", code="not-supported")
