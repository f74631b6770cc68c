"""Which FHIR interaction a request is, from its method and path: the one place that names them.

Every front door (the lean ASGI path, the FastAPI routes, each entry of a batch
or transaction Bundle) and the audit trail ask ``classify``, so an interaction
has one name wherever it is authorized or recorded:

    GET    /                        search-system      POST   /          batch / transaction
    GET    /_history                history-system     GET    /T/_history  history-type
    GET    /T                       search-type        POST   /T/_search   search-type
    POST   /T                       create             GET    /T/id        read
    PUT    /T/id                    update             PUT    /T?query     conditional update
    PATCH  /T/id                    patch              PATCH  /T?query     conditional patch
    DELETE /T/id                    delete             DELETE /T?query     conditional delete
    GET    /T/id/_history           history-instance   GET    /T/id/_history/v  vread
    any    [/T[/id]]/$name          operation (``operation`` = name)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Target", "classify", "BUNDLE_INTERACTIONS", "INSTANCE_INTERACTIONS"]

BUNDLE_INTERACTIONS = frozenset({"batch / transaction", "batch", "transaction"})
# Interactions about one instance: visibility of that instance is checked before them.
INSTANCE_INTERACTIONS = frozenset({"read", "vread", "history-instance", "update", "patch",
                                   "delete", "operation"})
_CONDITIONAL = {"PUT": "conditional update", "PATCH": "conditional patch",
                "DELETE": "conditional delete"}
_INSTANCE = {"GET": "read", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@dataclass(frozen=True)
class Target:
    """What a request asks for: the interaction, on which type and instance."""

    interaction: str
    resource_type: str | None = None
    resource_id: str | None = None
    operation: str | None = None  # "wishes" for $wishes


def classify(method: str, path: str) -> Target:
    """The interaction of ``method path`` (path without base, query or fragment)."""
    parts = [p for p in path.split("/") if p]
    method = method.upper()
    if parts and parts[-1].startswith("$"):
        rtype = parts[0] if len(parts) > 1 else None
        rid = parts[1] if len(parts) == 3 else None
        return Target("operation", rtype, rid, parts[-1][1:])
    if not parts:
        return Target("batch / transaction" if method == "POST" else "search-system")
    if parts[0] == "_history":
        return Target("history-system")
    rtype = parts[0]
    if len(parts) == 1:
        if method == "POST":
            return Target("create", rtype)
        return Target(_CONDITIONAL.get(method, "search-type"), rtype)
    if parts[1] == "_search":
        return Target("search-type", rtype)
    if parts[1] == "_history":
        return Target("history-type", rtype)
    rid = parts[1]
    if len(parts) >= 3 and parts[2] == "_history":
        return Target("vread" if len(parts) >= 4 else "history-instance", rtype, rid)
    return Target(_INSTANCE.get(method, "read"), rtype, rid)
