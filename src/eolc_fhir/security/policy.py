"""The access decision: a token's scopes AND its client's role, per interaction and type.

    authorize(principal, interaction, rtype, operation=, reads=)
                                              raises Forbidden / MethodNotAllowed
    can_read(principal, rtype)                for filtering _include/_revinclude results

``principal`` None means --insecure-dev: everything is allowed.
"""

from __future__ import annotations

from functools import lru_cache

from eolc_fhir.fhir.errors import Forbidden, MethodNotAllowed
from eolc_fhir.security.principal import Principal
from eolc_fhir.security.roles import (
    AUDIT_TYPE,
    SUMMARY_OPERATIONS,
    operation_allows,
    role_allows,
    summary_only,
)
from eolc_fhir.security.scopes import Grants

__all__ = ["authorize", "can_read", "allowed", "letter_for", "INTERACTION_LETTERS"]

# Interaction names as fhir/interactions.py classifies requests.
INTERACTION_LETTERS: dict[str, str] = {
    "read": "r", "vread": "r", "history-instance": "r",
    "search-type": "s", "search-system": "s", "history-type": "s", "history-system": "s",
    "create": "c", "update": "u", "conditional update": "u", "patch": "u",
    "conditional patch": "u",
    "delete": "d", "conditional delete": "d", "operation": "r",
}
_WRITES = {"c", "u", "d"}


def letter_for(interaction: str) -> str:
    return INTERACTION_LETTERS.get(interaction, "r")


def allowed(principal: Principal | None, letter: str, rtype: str) -> bool:
    return principal is None or _reads(principal.grants, principal.role, letter, rtype,
                                       principal.user_id is not None)


def can_read(principal: Principal | None, rtype: str) -> bool:
    """May this token see resources of ``rtype`` at all (search results, includes)?"""
    return allowed(principal, "r", rtype) or allowed(principal, "s", rtype)


def authorize(principal: Principal | None, interaction: str, rtype: str, *,
              operation: str | None = None, reads: tuple[str, ...] = ()) -> None:
    """Scope and role for ``interaction`` on ``rtype``; for an operation, also its role
    rule and read access to every type its answer carries (``reads``): a document the
    caller could only see in part would be a wrong document, so it is refused whole."""
    letter = letter_for(interaction)
    if rtype == AUDIT_TYPE and letter in _WRITES:
        # The audit trail is written by the server alone and never changed.
        raise MethodNotAllowed(f"{interaction} is not allowed on AuditEvent: "
                               "the audit trail is read-only")
    if principal is None:
        return
    if not principal.grants.allows(rtype, letter):
        raise Forbidden(f"the access token has no scope for '{letter}' on {rtype}",
                        code="forbidden")
    person = principal.user_id is not None
    if not role_allows(principal.role, letter, rtype, person):
        if summary_only(principal.role, person):
            raise Forbidden(f"a signed-in '{principal.role}' person sees the summary only "
                            f"(Patient/$wishes, and Patient search to find the person), so "
                            f"may not {interaction} {rtype}", code="forbidden")
        raise Forbidden(f"a '{principal.role}' client may not {interaction} {rtype}",
                        code="forbidden")
    if principal.role and not operation_allows(principal.role, operation):
        raise Forbidden(f"the role '{principal.role}' may not use ${operation}",
                        code="forbidden")
    # A summary-only person reads the summary whole: its types need their scope, not role.
    whole = summary_only(principal.role, person) and operation in SUMMARY_OPERATIONS
    unreadable = _unreadable(principal.grants, principal.role, reads, person and not whole) \
        if reads else ()
    if unreadable:
        raise Forbidden(f"${operation} answers with a document that includes "
                        f"{', '.join(unreadable)}, which this client may not read; a document "
                        "seen only in part could mislead, so none is sent", code="forbidden")


@lru_cache(maxsize=256)  # a few kinds of token ask again and again
def _unreadable(grants: Grants, role: str, types: tuple[str, ...],
                person: bool) -> tuple[str, ...]:
    return tuple(t for t in types if not (_reads(grants, role, "r", t, person) or
                                          _reads(grants, role, "s", t, person)))


def _reads(grants: Grants, role: str, letter: str, rtype: str, person: bool = False) -> bool:
    """The token's scope and its client's role (or its person's) both allow ``letter``."""
    return grants.allows(rtype, letter) and role_allows(role, letter, rtype, person)
