"""A GP practice's people: what a person signed in from a practice may see.

A *person* (a token from the authorization code flow) with the role ``gp`` sees
the people registered with their practice — ``Patient.generalPractitioner``
refers to an Organization with the person's ODS code — and
those people's resources; a Provenance is about the people its targets are
about. Resources about nobody (Organizations, Practitioners, definitions) stay
visible. GP *systems* (client credentials: the practice's EHR) are not held to
it (docs/security.md says why). Someone else's person is answered as unknown:
a read is 404, a search leaves them out.

    bound_practice(principal)                 the ODS code a principal is held to, or None
    visible_mask(practice, resources, ...)    for each resource: may that practice see it?
    filter_practice(bundle, principal, ...)   drop from a Bundle what the practice may not see
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from eolc_fhir.security.compartment import patient_of
from eolc_fhir.security.principal import Principal
from eolc_fhir.security.visibility import LookupOrigins

__all__ = ["bound_practice", "visible_mask", "filter_practice", "LookupPractices", "people_of",
           "NOT_KNOWN"]

LookupPractices = Callable[[Sequence[str]], Awaitable[dict[str, frozenset[str]]]]
_KEEP_WHOLE = ("batch-response", "transaction-response")
_DECIDED_BY_OPERATION = ("document",)  # $wishes checked its person itself
NOT_KNOWN = "{0} is not known"  # the same words as a read of an id that does not exist


def bound_practice(principal: Principal | None) -> str | None:
    """The practice (ODS code) whose people alone ``principal`` sees, or None."""
    if principal is None or principal.user_id is None or principal.role != "gp":
        return None
    return principal.ods or "\0"  # a GP person without a practice sees nobody


def people_of(resource: dict[str, Any]) -> tuple[set[str], set[tuple[str, str]]]:
    """The people a resource is about: ids found on it, and (type, id) of the resources
    a Provenance is about, whose person the origin rows know."""
    direct = patient_of(resource)
    if direct is not None:
        return {direct}, set()
    if resource.get("resourceType") != "Provenance":
        return set(), set()
    people, targets = set(), set()
    for target in resource.get("target") or []:
        ref = target.get("reference") if isinstance(target, dict) else None
        parts = ref.split("/") if isinstance(ref, str) else []
        if len(parts) >= 2 and parts[0] == "Patient":
            people.add(parts[1])
        elif len(parts) >= 2:
            targets.add((parts[0], parts[1]))
    return people, targets


async def visible_mask(practice: str, resources: Sequence[dict[str, Any]],
                       origins: LookupOrigins, practices: LookupPractices) -> list[bool]:
    """For each resource, may a person of ``practice`` see it? At most two indexed
    queries for the lot: the origin rows of Provenance targets, the people's practices."""
    about = [people_of(r) for r in resources]
    targets = sorted({key for _, via in about for key in via})
    origin_of = await origins(targets) if targets else {}
    people: list[set[str] | None] = []
    for direct, via in about:
        found = set(direct)
        for key in via:
            origin = origin_of.get(key)
            if origin is not None and origin.patient_id is not None:
                found.add(origin.patient_id)
        people.append(found or None)  # None: about nobody
    everyone = sorted({pid for found in people if found for pid in found})
    known = await practices(everyone) if everyone else {}
    return [found is None or any(practice in known.get(pid, ()) for pid in found)
            for found in people]


async def filter_practice(bundle: dict[str, Any], principal: Principal | None,
                          origins: LookupOrigins, practices: LookupPractices) -> bool:
    """Drop (in batch responses: empty) the entries about people outside the principal's
    practice; True if the Bundle changed. Unbound principals: nothing to do."""
    practice = bound_practice(principal)
    entries = bundle.get("entry")
    if practice is None or not isinstance(entries, list) or \
            bundle.get("type") in _DECIDED_BY_OPERATION:
        return False
    held = [(n, e["resource"]) for n, e in enumerate(entries)
            if isinstance(e, dict) and isinstance(e.get("resource"), dict)
            and e["resource"].get("resourceType") != "OperationOutcome"]
    mask = await visible_mask(practice, [r for _, r in held], origins, practices)
    hidden = {n for (n, _), seen in zip(held, mask, strict=True) if not seen}
    if not hidden:
        return False
    keep_whole = bundle.get("type") in _KEEP_WHOLE
    bundle["entry"] = [
        ({k: v for k, v in e.items() if k != "resource"} if n in hidden else e)
        for n, e in enumerate(entries) if n not in hidden or keep_whole]
    if isinstance(bundle.get("total"), int):
        bundle["total"] = max(0, bundle["total"] - len(hidden))
    return True
