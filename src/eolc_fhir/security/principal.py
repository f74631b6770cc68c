"""Who is calling: the verified token's client, and the request's security context.

``current`` is a context variable set by the API layer for the duration of one
request, so that services deep below (transaction entries, write hooks,
include filtering) can ask who is calling without threading it through.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from eolc_fhir.security.scopes import Grants

__all__ = ["Principal", "RequestContext", "current", "current_principal"]


@dataclass(frozen=True)
class Principal:
    """A client authenticated by an access token this server issued (and the person
    signed in to it, for the authorization code flow)."""

    client_id: str
    ods: str
    role: str
    grants: Grants
    expires_at: float  # seconds since the epoch
    user_id: str | None = None  # the signed-in person, when a person's app holds the token
    fhir_user: str | None = None  # that person as a FHIR reference (the fhirUser claim)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass
class RequestContext:
    """One request's security facts, filled in as the request is handled."""

    request_id: str
    principal: Principal | None = None  # None: --insecure-dev
    method: str = "GET"
    path: str = "/"
    query: str = ""
    interaction: str | None = None  # the route's interaction name, once routed
    resource_type: str | None = None
    resource_id: str | None = None
    x_provenance: str | None = None  # the X-Provenance header, if sent
    remote: str | None = None
    audited_in_transaction: bool = False  # a write hook already recorded this request
    patients: list[str] = field(default_factory=list)  # whom an answer without body is about
    resources: list[str] | None = None  # what the answer holds, when its service said so
    decided: bool = False  # the operation decided the answer's visibility whole
    extra: dict[str, Any] = field(default_factory=dict)


current: ContextVar[RequestContext | None] = ContextVar("eolc_request_security", default=None)


def current_principal() -> Principal | None:
    ctx = current.get()
    return ctx.principal if ctx is not None else None
