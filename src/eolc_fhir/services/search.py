"""Search entry points (minimal placeholder: _id and identifier only).

The full engine replaces this module; conditional create/update already go
through ``find_ids`` so they will use the same search as GET /[type]?...
"""

from __future__ import annotations

from eolc_fhir.fhir.errors import InvalidRequest
from eolc_fhir.storage.unit_of_work import UnitOfWork

__all__ = ["find_ids"]


async def find_ids(uow: UnitOfWork, resource_type: str, params: list[tuple[str, str]]) -> list[str]:
    """Ids of current resources of ``resource_type`` matching every parameter."""
    if not params:
        raise InvalidRequest("a conditional request needs search parameters")
    matches: set[str] | None = None
    for name, value in params:
        found: set[str] = set()
        for alternative in value.split(","):
            system, code = _split_token(alternative)
            param = name if name in ("_id", "identifier") else None
            if param is None:
                raise InvalidRequest(f"unsupported search parameter: {name}", code="not-supported")
            found.update(await uow.resources.ids_with_token(resource_type, param, system, code))
        matches = found if matches is None else matches & found
    live = [i for i in sorted(matches or ()) if await uow.resources.exists_live(resource_type, i)]
    return live


def _split_token(value: str) -> tuple[str | None, str]:
    if "|" in value:
        system, code = value.split("|", 1)
        return system, code
    return None, value
