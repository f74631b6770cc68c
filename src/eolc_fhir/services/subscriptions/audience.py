"""Which matched Subscriptions may hear of a change: their owners' visibility, in the write.

Decided where events are appended (the transactional outbox), so an event a
subscriber may not see is never numbered for it: each Subscription's event
numbers stay dense (``eventsSinceSubscriptionStart``, ``$events`` and the
heartbeats agree), and the dispatcher and the websocket hub deliver what is
there without asking again. The facts about the change are read once for all
its subscribers, inside the write's own transaction (so a withdrawal committed
with it counts), and only when some owner's view can narrow: at most three
indexed queries per change, none per subscriber.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eolc_fhir.security.audience import Focus, Owner, may_see, owner_from_text
from eolc_fhir.security.compartment import is_consent_to_share
from eolc_fhir.security.practice import people_of
from eolc_fhir.security.principal import current_principal
from eolc_fhir.services.resources.writes import Change
from eolc_fhir.storage.unit_of_work import UnitOfWork

__all__ = ["audible", "OwnerCache"]


class OwnerCache:
    """Parsed owner views, by their stored text (a handful of distinct owners)."""

    def __init__(self) -> None:
        self._owners: dict[str, Owner | None] = {}

    def get(self, text: str | None) -> Owner | None:
        if text is None:
            return None
        if text not in self._owners:
            if len(self._owners) > 10_000:
                self._owners.clear()
            self._owners[text] = owner_from_text(text)
        return self._owners[text]


def _narrows(owner: Owner | None) -> bool:
    return owner is not None and owner.role != "admin"


async def audible(uow: UnitOfWork, owners: OwnerCache, change: Change,
                  versions: Sequence[dict[str, Any]],
                  matched: Sequence[tuple[str, str | None]]) -> list[str]:
    """The ids of the matched (sub_id, owner text) Subscriptions whose owner may see it."""
    views = [(sub_id, owners.get(text)) for sub_id, text in matched]
    if not any(_narrows(owner) for _, owner in views):
        return [sub_id for sub_id, _ in views]  # the common case: no query at all
    practices = any(owner is not None and owner.practice is not None for _, owner in views)
    focus = await _focus(uow, change, versions, practices)
    return [sub_id for sub_id, owner in views if may_see(owner, focus)]


async def _focus(uow: UnitOfWork, change: Change, versions: Sequence[dict[str, Any]],
                 practices: bool) -> Focus:
    rtype, rid = change.stored.resource_type, change.stored.id
    resource = versions[0] if versions else {"resourceType": rtype, "id": rid}
    direct, via = people_of(resource)
    repo = uow.security
    if via:
        found = await repo.origins(sorted(via))
        direct |= {o.patient_id for o in found.values() if o.patient_id is not None}
    people = frozenset(direct)
    shared = rtype == "Patient" or is_consent_to_share(resource)
    withdrawn = bool(people) and bool(await repo.withdrawn_patients(people))
    recorded_by = None
    if withdrawn and not shared:
        origin = (await repo.origins([(rtype, rid)])).get((rtype, rid))
        principal = current_principal()  # a create: its origin row is written after this
        recorded_by = origin.ods if origin is not None else (
            principal.ods if principal is not None else None)
    known = None
    if practices and people:
        by_patient = await repo.practices_of(sorted(people))
        known = frozenset(code for codes in by_patient.values() for code in codes)
    return Focus(rtype, people, shared, withdrawn, recorded_by, known)
