"""Enforcement shared by the routes, the lean read path and Bundle entries.

``check(state, principal, interaction, rtype, rid)`` raises Forbidden (403)
or MethodNotAllowed (405); an instance that is hidden by ownership or by
withdrawn consent is refused with 403 and a reason.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from eolc_fhir.fhir.errors import Forbidden, NotFound
from eolc_fhir.fhir.interactions import INSTANCE_INTERACTIONS, Target, classify
from eolc_fhir.security.policy import authorize, letter_for
from eolc_fhir.security.practice import NOT_KNOWN, bound_practice
from eolc_fhir.security.principal import Principal, current
from eolc_fhir.security.roles import OWNED_TYPES
from eolc_fhir.security.state import SecurityState
from eolc_fhir.security.visibility import hidden
from eolc_fhir.storage.security_repo import SecurityRepository

__all__ = ["check", "check_visible", "entry_interaction", "check_entry", "SYSTEM_WIDE"]

# Interactions over every type at once: only roles that may read everything.
SYSTEM_WIDE = {"history-system"}


async def check(state: SecurityState, principal: Principal | None, target: Target,
                repo: SecurityRepository | None = None, reads: tuple[str, ...] = ()) -> None:
    """May ``principal`` do ``target``? ``reads``: the types an operation's answer carries."""
    interaction, rtype, rid = target.interaction, target.resource_type, target.resource_id
    if rtype is None:
        if interaction in SYSTEM_WIDE and principal is not None and \
                principal.role not in ("admin", "coordination-centre"):
            raise Forbidden(f"a '{principal.role}' client may not use {interaction}")
        return
    authorize(principal, interaction, rtype, operation=target.operation, reads=reads)
    if rid is not None and interaction in INSTANCE_INTERACTIONS:
        await check_visible(state, principal, rtype, rid, repo,
                            reading=letter_for(interaction) in ("r", "s"))


async def check_visible(state: SecurityState, principal: Principal | None, rtype: str,
                        rid: str, repo: SecurityRepository | None = None, *,
                        reading: bool = True) -> None:
    """403 for an instance hidden by ownership or withdrawn consent, 404 for a person
    outside a GP person's practice (when ``reading``: the practice rule limits what is
    seen, not what is recorded); ``repo``: the caller's transaction (Bundle entries),
    so as not to take a second connection."""
    if principal is None or principal.is_admin:
        return
    withdrawn = await state.withdrawn_patients()
    practice = bound_practice(principal) if reading else None
    if practice is not None and rtype == "Patient":
        await _in_practice(state, practice, rtype, rid, rid, repo)
    if rtype not in OWNED_TYPES and (not withdrawn or rtype == "Patient") and \
            (practice is None or rtype == "Patient"):
        return  # the common case decides without a query
    if repo is not None:
        found = await repo.origins([(rtype, rid)])
    else:
        found = await state.origins([(rtype, rid)])
    origin = found.get((rtype, rid))
    if origin is None:
        return  # not there: the interaction itself answers 404 (or creates it)
    if practice is not None and origin.patient_id is not None and rtype != "Patient":
        await _in_practice(state, practice, rtype, rid, origin.patient_id, repo)
    if hidden(principal, rtype, origin, withdrawn):
        if rtype in OWNED_TYPES:
            raise Forbidden(f"this {rtype} belongs to another client")
        raise Forbidden("the person has withdrawn consent to share their record: only the "
                        "organisation that recorded it may see it")


async def _in_practice(state: SecurityState, practice: str, rtype: str, rid: str,
                       patient_id: str, repo: SecurityRepository | None) -> None:
    """404, as for an id that does not exist: whether someone else's person is on the
    register is itself not this person's to know (FHIR allows 404 in place of 403)."""
    if repo is not None:  # inside a Bundle's transaction: no second connection
        known: set[str] | frozenset[str] = (await repo.practices_of([patient_id])).get(
            patient_id, set())
    else:
        known = (await state.practices([patient_id])).get(patient_id, frozenset())
    if practice not in known:
        raise NotFound(NOT_KNOWN.format(f"{rtype}/{rid}"))


def entry_interaction(method: str, url: str) -> Target:
    """The interaction of a Bundle entry's request (its url is relative to the base)."""
    return classify(method, urlsplit(url).path)


async def check_entry(state: SecurityState | None, method: str, url: str,
                      repo: SecurityRepository | None = None) -> None:
    """Per-entry check inside batch and transaction Bundles (insecure: no-op)."""
    request = current.get()
    if state is None or request is None or request.principal is None:
        return
    target = entry_interaction(method, url)
    if target.resource_type is None:
        raise Forbidden("a Bundle entry must name a resource type")
    await check(state, request.principal, target, repo)
