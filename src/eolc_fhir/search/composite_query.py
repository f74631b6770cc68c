"""Composite search values (``code$value``, commas: OR) as plans over ``composite``'s rows."""

from __future__ import annotations

import re

from eolc_fhir.fhir.errors import InvalidRequest
from eolc_fhir.search import criteria as cr
from eolc_fhir.search.composite import Composite, composite_param
from eolc_fhir.storage.query import Clause, Criterion, Either, Test

__all__ = ["composite_clause"]

_DOLLAR = re.compile(r"(?<!\\)\$")


def composite_clause(composite: Composite, value: str) -> Clause:
    """``left$right`` (commas: OR) as lookups of the second component's rows."""
    branches: list[Criterion] = []
    for one in cr.split_values(value):
        parts = _DOLLAR.split(one)
        if len(parts) != 2 or not parts[0] or not parts[1]:
            raise InvalidRequest(f"{composite.code} takes two values joined by '$', not {one!r}",
                                 expression=composite.code)
        branches.append(Criterion(composite.kind, _left(composite.code, parts[0]),
                                  (_right(composite.kind, parts[1]),)))
    if len(branches) == 1:
        return branches[0]
    return Either(tuple((b,) for b in branches))


def _left(code: str, text: str) -> str:
    token = cr.token_test(text)
    if token.code is None:
        raise InvalidRequest(f"{code}: the first value needs a code, not {text!r}",
                             expression=code)
    if token.any_system:
        return composite_param(code, "*", token.code)
    return composite_param(code, token.system or "", token.code)


def _right(kind: str, text: str) -> Test:
    if kind == "token":
        return cr.token_test(text)
    if kind == "quantity":
        return cr.quantity_test(text)
    if kind == "date":
        return cr.date_test(text)
    return cr.string_test(text, "")
