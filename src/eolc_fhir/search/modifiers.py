"""Token modifiers that need terminology or identifier types: :in, :not-in, :below, :above,
:of-type."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from eolc_fhir.fhir.errors import InvalidRequest
from eolc_fhir.search.extract import of_type_param
from eolc_fhir.storage.query import Clause, Criterion, IdTest, TokenTest

__all__ = ["Codes", "TERMINOLOGY_MODIFIERS", "of_type_clause", "terminology_clause"]

TERMINOLOGY_MODIFIERS = frozenset({"in", "not-in", "below", "above"})


class Codes(Protocol):
    """The server's terminology (validation's ``Terminology`` fits): expansions of the
    ValueSets it holds and the hierarchies of its own CodeSystems."""

    def knows_value_set(self, url: str) -> bool: ...

    def concepts(self, vs_url: str) -> Sequence[Any]: ...  # items with .system and .code

    def subsumption(self, system: str, code: str, direction: str) -> frozenset[str] | None: ...


def of_type_clause(code: str, values: list[str]) -> Criterion:
    """``identifier:of-type=system|code|value`` (system may be empty: any system)."""
    tests = []
    for value in values:
        parts = value.split("|")
        if len(parts) != 3 or not parts[1] or not parts[2]:
            raise InvalidRequest(f"{code}:of-type takes system|code|value, not {value!r}",
                                 expression=f"{code}:of-type")
        system, type_code, ident = parts
        tests.append(TokenTest(f"{type_code}|{ident}", system or None, not system))
    return Criterion("token", of_type_param(code), tuple(tests))


def terminology_clause(codes: Codes | None, code: str, modifier: str,
                       values: list[str]) -> Clause:
    """``code:in`` / ``:not-in`` (a ValueSet the server holds) and ``:below`` / ``:above``
    (a local CodeSystem's hierarchy) as the OR of the codes they stand for."""
    name = f"{code}:{modifier}"
    if codes is None:
        raise InvalidRequest(f"{name}: no terminology is loaded", code="not-supported")
    pairs: set[tuple[str | None, str]] = set()
    for value in values:
        if modifier in ("in", "not-in"):
            pairs |= _value_set(codes, name, value)
        else:
            pairs |= _hierarchy(codes, name, modifier, value)
    tests = tuple(TokenTest(c, s, s is None) for s, c in sorted(pairs, key=str))
    negate = modifier == "not-in"
    if not tests:  # an empty expansion: nothing is in it, everything is outside it
        return IdTest((), negate=negate)
    return Criterion("token", code, tests, negate=negate)


def _value_set(codes: Codes, name: str, url: str) -> set[tuple[str | None, str]]:
    if not codes.knows_value_set(url):
        raise InvalidRequest(f"{name}: ValueSet {url!r} is not held by this server "
                             f"(see GET /ValueSet)", expression=name)
    return {(c.system, c.code) for c in codes.concepts(url)}


def _hierarchy(codes: Codes, name: str, direction: str,
               value: str) -> set[tuple[str | None, str]]:
    system, bar, code = value.partition("|")
    if not bar or not system or not code:
        raise InvalidRequest(f"{name} takes system|code, not {value!r}", expression=name)
    found = codes.subsumption(system, code, direction)
    if found is None:
        raise InvalidRequest(f"{name}: subsumption is not available for {system}: this "
                             f"server holds no hierarchy of that code system",
                             code="not-supported", expression=name)
    return {(system, c) for c in found}
