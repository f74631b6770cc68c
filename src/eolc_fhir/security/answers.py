"""Visibility applied to an answer before it leaves: what the caller may not see goes.

One step of the request pipeline (api/guard.py), the same for every front door:
Bundles lose the entries hidden by ownership, withdrawn consent and (for a GP
person) the practice rule; a resource read about someone outside a GP person's
practice is answered as unknown (404).
"""

from __future__ import annotations

from typing import Any

from eolc_fhir.security.practice import NOT_KNOWN, bound_practice, filter_practice, visible_mask
from eolc_fhir.security.principal import Principal
from eolc_fhir.security.state import SecurityState
from eolc_fhir.security.visibility import filter_bundle

__all__ = ["filter_answer"]


async def filter_answer(parsed: dict[str, Any], principal: Principal | None, method: str,
                        state: SecurityState) -> tuple[bool, str | None]:
    """(the Bundle ``parsed`` was changed in place, the text of the 404 to answer instead)."""
    if parsed.get("resourceType") == "Bundle":
        changed = await filter_bundle(parsed, principal, await state.withdrawn_patients(),
                                      state.origins)
        return await filter_practice(parsed, principal, state.origins,
                                     state.practices) or changed, None
    practice = bound_practice(principal)
    if practice is None or method != "GET" or parsed.get("resourceType") in (
            "OperationOutcome", None):
        return False, None
    # A Provenance read (its person known only through its targets) and the like.
    seen = await visible_mask(practice, [parsed], state.origins, state.practices)
    return False, None if seen[0] else NOT_KNOWN.format(
        f"{parsed.get('resourceType')}/{parsed.get('id')}")
