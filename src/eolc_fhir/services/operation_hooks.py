"""Access checks and audit around the patient operations ($wishes, $everything).

The security layer plugs in here without these operations knowing how it
works: ``ctx.extras["operation_checks"]`` holds awaitables run BEFORE an
operation (raise ``Forbidden`` to refuse), ``ctx.extras["audit_hooks"]``
awaitables run AFTER it, successful or not, with the outcome. Until a
security policy registers a check, ``default_check`` applies the role rule
of the issue to a principal that names a role.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from eolc_fhir.fhir.errors import Forbidden
from eolc_fhir.services.context import ServerContext

__all__ = ["OperationCall", "ALLOWED_ROLES", "check", "audit", "default_check"]

CLINICAL_ROLES = ("gp", "hospital", "hospice", "coordination-centre")
ALLOWED_ROLES: dict[str, tuple[str, ...]] = {
    "wishes": ("ambulance", "care-home", *CLINICAL_ROLES),
    "everything": CLINICAL_ROLES,
}


@dataclass
class OperationCall:
    """Who asked for which operation about whom, and how it ended."""

    operation: str  # "wishes" | "everything"
    principal: Any  # what the auth layer put on the request (None: no auth)
    patient_ids: list[str] = field(default_factory=list)
    query: str = ""  # e.g. the identifier searched; never logged by us
    status: int = 0
    warnings: list[str] = field(default_factory=list)


Hook = Callable[[ServerContext, OperationCall], Awaitable[None]]


async def default_check(ctx: ServerContext, call: OperationCall) -> None:
    role = getattr(call.principal, "role", None)
    if role is None and isinstance(call.principal, dict):
        role = call.principal.get("role")
    if role is not None and role not in ALLOWED_ROLES[call.operation]:
        raise Forbidden(f"the role '{role}' may not use ${call.operation}")


async def check(ctx: ServerContext, call: OperationCall) -> None:
    hooks: list[Hook] = list(ctx.extras.get("operation_checks", ())) or [default_check]
    for hook in hooks:
        await hook(ctx, call)


async def audit(ctx: ServerContext, call: OperationCall) -> None:
    for hook in ctx.extras.get("audit_hooks", ()):
        await hook(ctx, call)
