"""SMART scopes: parse ``system/Type.cruds`` (v2) and ``system/Type.read|write`` (v1).

A parsed scope set is a set of (resource type or "*", permission letter)
grants; v1 ``read`` means ``rs`` and ``write`` means ``cud``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Grants", "ScopeError", "parse_scopes", "PERMISSIONS"]

PERMISSIONS = "cruds"
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}
_SCOPE = re.compile(r"^system/(\*|[A-Z][A-Za-z]{1,63})\.([a-z*]+)$")


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


def parse_scopes(text: str) -> Grants:
    """Parse space-separated scopes; ScopeError on anything but system/ resource scopes."""
    pairs: set[tuple[str, str]] = set()
    names: list[str] = []
    for scope in text.split():
        match = _SCOPE.match(scope)
        if match is None:
            raise ScopeError(f"unsupported scope '{scope}': use system/<Type|*>.<cruds>")
        rtype, perms = match.groups()
        pairs.update((rtype, letter) for letter in _letters(perms))
        if scope not in names:
            names.append(scope)
    return Grants(frozenset(pairs), tuple(names))
