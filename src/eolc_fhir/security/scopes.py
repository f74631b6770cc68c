"""SMART scopes: parse ``system|user/Type.cruds`` (v2) and ``.../Type.read|write`` (v1).

A parsed scope set is a set of (resource type or "*", permission letter)
grants; v1 ``read`` means ``rs`` and ``write`` means ``cud``. ``system/`` scopes
are a client system's own (client_credentials); ``user/`` scopes are a signed-in
person's (the authorization code flow), with the identity scopes ``openid`` and
``fhirUser`` beside them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Grants", "ScopeError", "parse_scopes", "narrow", "split_identity", "PERMISSIONS",
           "IDENTITY_SCOPES"]

PERMISSIONS = "cruds"
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}
_SCOPE = re.compile(r"^(system|user)/(\*|[A-Z][A-Za-z]{1,63})\.([a-z*]+)$")
IDENTITY_SCOPES = ("openid", "fhirUser")


class ScopeError(ValueError):
    """A scope this server does not understand (invalid_scope)."""


def _letters(text: str) -> str:
    if text in _V1:
        return _V1[text]
    # v2 letters must appear in c-r-u-d-s order, each at most once.
    position = -1
    for letter in text:
        index = PERMISSIONS.find(letter)
        if index <= position:
            raise ScopeError(f"'{text}' is not a SMART permission string")
        position = index
    return text


@dataclass(frozen=True)
class Grants:
    """What a set of scopes lets a token do: (type or '*', letter) pairs."""

    pairs: frozenset[tuple[str, str]]
    text: tuple[str, ...]

    def allows(self, rtype: str, letter: str) -> bool:
        return (rtype, letter) in self.pairs or ("*", letter) in self.pairs

    def covers(self, other: Grants) -> bool:
        """Every grant of ``other`` is also one of ours."""
        return all(self.allows(rtype, letter) for rtype, letter in other.pairs)

    def __str__(self) -> str:
        return " ".join(self.text)


def parse_scopes(text: str, *, context: str | None = "system") -> Grants:
    """Parse space-separated resource scopes of one context (``system`` or ``user``; None:
    either, for what this server issued itself); ScopeError on anything else."""
    pairs: set[tuple[str, str]] = set()
    names: list[str] = []
    for scope in text.split():
        match = _SCOPE.match(scope)
        if match is None or context not in (None, match.group(1)):
            raise ScopeError(f"unsupported scope '{scope}': use {context or 'system'}/"
                             "<Type|*>.<cruds>")
        _, rtype, perms = match.groups()
        pairs.update((rtype, letter) for letter in _letters(perms))
        if scope not in names:
            names.append(scope)
    return Grants(frozenset(pairs), tuple(names))


def split_identity(text: str) -> tuple[list[str], str]:
    """(the identity scopes asked for, the other scopes as text)."""
    words = text.split()
    return ([w for w in IDENTITY_SCOPES if w in words],
            " ".join(w for w in words if w not in IDENTITY_SCOPES))


def narrow(wanted: Grants, allowed: Grants, context: str = "user") -> Grants:
    """What may be granted of ``wanted`` under ``allowed``, written as scopes of ``context``:
    each asked-for scope keeps the letters ``allowed`` gives it, and ``*`` asked for also
    keeps the type-specific grants of ``allowed`` (``user/*.cruds`` for a client allowed
    ``*.rs`` and ``Subscription.cru`` gives ``user/*.rs user/Subscription.cru``)."""
    letters: dict[str, set[str]] = {}
    for rtype, letter in wanted.pairs:
        if allowed.allows(rtype, letter):
            letters.setdefault(rtype, set()).add(letter)
        if rtype == "*":
            for other, granted in allowed.pairs:
                if granted == letter and other != "*":
                    letters.setdefault(other, set()).add(letter)
    text = []
    for rtype in sorted(letters, key=lambda t: (t != "*", t)):
        kept = "".join(p for p in PERMISSIONS if p in letters[rtype]
                       and (rtype == "*" or "*" not in letters or p not in letters["*"]))
        if kept:
            text.append(f"{context}/{rtype}.{kept}")
    return parse_scopes(" ".join(text), context=context)
