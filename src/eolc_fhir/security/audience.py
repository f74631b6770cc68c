"""Who may be told of a change: a Subscription's owner, and what they may see (pure).

A Subscription remembers, when it is created, the view of its owner: their
role, their organisation (ODS code) and whether a person (not a system) made
it. A change is notified only to owners who could read the changed resource
through the API: the role's types (and, for a person, the person's rules);
withdrawn consent (only the organisation that recorded the resource sees it,
consent-to-share Consents and the Patient excepted); and, for a GP person,
their practice's people only. Admin and ownerless Subscriptions (written
outside any request) see everything, as the API's own rules say.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from eolc_fhir.security.principal import Principal
from eolc_fhir.security.roles import role_allows

__all__ = ["Owner", "Focus", "owner_text", "owner_from_text", "may_see", "view_text"]


@dataclass(frozen=True)
class Owner:
    role: str
    ods: str
    person: bool

    @property
    def practice(self) -> str | None:
        """The practice a GP person is held to (security/practice.py), else None."""
        return (self.ods or "\0") if self.person and self.role == "gp" else None


@dataclass(frozen=True)
class Focus:
    """The facts about one changed resource that decide who hears of it."""

    rtype: str
    patients: frozenset[str]  # whom it is about (none: nobody's record)
    shared_always: bool  # the Patient or a consent-to-share Consent (never hidden by consent)
    withdrawn: bool  # one of its people withdrew consent to share
    recorded_by: str | None  # the ODS code of the organisation that recorded it
    practices: frozenset[str] | None  # its people's practices (None: not looked up)


def owner_text(principal: Principal | None) -> str | None:
    """The owner's view as stored with the Subscription's delivery state (compact JSON)."""
    if principal is None:
        return None
    return view_text(principal.role, principal.ods, person=principal.user_id is not None)


def view_text(role: str, ods: str, *, person: bool) -> str:
    return orjson.dumps({"role": role, "ods": ods, "person": person}).decode()


def owner_from_text(text: str | None) -> Owner | None:
    if not text or not text.startswith("{"):
        return None
    try:
        data = orjson.loads(text)
        return Owner(str(data["role"]), str(data["ods"]), bool(data["person"]))
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None  # an owner written by an older version: as before, no narrowing


def may_see(owner: Owner | None, focus: Focus) -> bool:
    """Could ``owner`` read the changed resource through the API?"""
    if owner is None or owner.role == "admin":
        return True
    if not (role_allows(owner.role, "r", focus.rtype, owner.person) or
            role_allows(owner.role, "s", focus.rtype, owner.person)):
        return False
    if focus.withdrawn and not focus.shared_always and focus.recorded_by != owner.ods:
        return False
    practice = owner.practice
    if practice is None or not focus.patients:
        return True
    return focus.practices is not None and practice in focus.practices
