"""Withdrawn consent, applied before the $wishes document is built.

The security layer removes from every Bundle what the caller may not see (a
person who withdrew consent to share: only the organisation that recorded a
resource sees it). $wishes must apply the same rule to the rows it reads,
BEFORE writing its narratives, or the Composition would still describe what
the Bundle no longer carries. Without a security state (``--insecure-dev``)
or for admin, nothing is hidden. On PostgreSQL the people in the document are
looked up afresh: a withdrawal recorded through another process applies at once.
"""

from __future__ import annotations

from typing import Any

import orjson

from eolc_fhir.fhir.errors import NotFound
from eolc_fhir.security.compartment import is_consent_to_share
from eolc_fhir.security.practice import bound_practice
from eolc_fhir.security.principal import current_principal
from eolc_fhir.security.visibility import hidden, needs_origin
from eolc_fhir.services.context import ServerContext
from eolc_fhir.storage.model import Row

__all__ = ["visible_rows", "viewer", "SHARED", "check_practice"]

SHARED = ""  # the view every caller has: no withdrawn consent in the document


async def check_practice(ctx: ServerContext, patient_ids: list[str], not_found: str) -> None:
    """A GP person asks about someone outside their practice: answered as unknown (404),
    kept document or not. One of the person's records at the practice is enough."""
    state: Any = ctx.security
    practice = bound_practice(current_principal()) if state is not None else None
    if practice is None:
        return
    known = await state.practices(patient_ids)
    if not any(practice in known.get(pid, ()) for pid in patient_ids):
        raise NotFound(not_found)


def viewer() -> str:
    """Which view of a withdrawn person's record the caller has: ``hidden`` depends only on
    whether the caller is admin and, if not, on its organisation."""
    principal = current_principal()
    if principal is None or principal.is_admin:
        return "admin"
    return f"ods:{principal.ods}"


async def visible_rows(ctx: ServerContext, rows: list[Row]) -> tuple[list[Row], str]:
    """The rows the caller may see, and whose view they are: ``SHARED`` when every caller
    sees the same rows (no withdrawn consent among them), else the caller's ``viewer()``.
    A document built from them may be kept for callers with the same view."""
    state: Any = ctx.security
    if state is None:
        return rows, SHARED
    withdrawn: frozenset[str] = await state.withdrawn_patients()
    if not ctx.db.embedded:
        # The set above may be 2 s old, and another process may have recorded a withdrawal
        # since: for the people in this document, ask the database now (one indexed query;
        # only when the record was read again, never for a kept document).
        people = {r.id for r in rows if r.resource_type == "Patient"}
        withdrawn = (withdrawn - people) | await state.withdrawn_among(people)
    theirs = [r.id for r in rows if r.resource_type == "Patient" and r.id in withdrawn]
    if not theirs:
        return rows, SHARED  # the common case: one cached set lookup
    principal = current_principal()
    if principal is None or principal.is_admin:
        return rows, viewer()
    keys = [(r.resource_type, r.id) for r in rows
            if needs_origin(principal, r.resource_type, theirs[0], withdrawn)
            and not is_consent_to_share(orjson.loads(r.content))]
    if not keys:
        return rows, viewer()
    async with ctx.db.unit_of_work(write=False) as uow:
        origins = await uow.security.origins(keys)
    wanted = set(keys)
    return [r for r in rows if (r.resource_type, r.id) not in wanted
            or not hidden(principal, r.resource_type, origins.get((r.resource_type, r.id)),
                          withdrawn)], viewer()
