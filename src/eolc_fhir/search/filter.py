"""``_filter`` (FHIR R4 search_filter), the common subset: comparisons on search parameters
joined by ``and`` / ``or`` with parentheses; anything else is a 400 that names it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from eolc_fhir.fhir.errors import InvalidRequest
from eolc_fhir.search.values import normalise
from eolc_fhir.storage.query import Clause, Criterion, Either, StringTest

__all__ = ["parse_filter", "ClauseOf"]

# (param name, value) -> the clause parse_clause makes of it, for the filter's resource type
ClauseOf = Callable[[str, str], Clause]
KindOf = Callable[[str], str]

_TOKEN = re.compile(r'\s*(\(|\)|"(?:[^"\\]|\\.)*"|[^\s()"]+)')
_ORDERED = ("date", "number", "quantity")
_SUPPORTED = {"eq", "ne", "co", "sw", "ew", "gt", "lt", "ge", "le"}
_UNSUPPORTED = {"pr", "po", "ss", "sb", "in", "ni", "re", "sa", "eb", "ap"}


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None:
            raise InvalidRequest(f"_filter: cannot read {text[pos:]!r}", expression="_filter")
        out.append(match.group(1))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str, clause_of: ClauseOf, kind_of: KindOf) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.clause_of = clause_of
        self.kind_of = kind_of

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise InvalidRequest("_filter ends too soon", expression="_filter")
        self.pos += 1
        return token

    def either(self) -> tuple[Clause, ...]:
        branches = [self.both()]
        while self.peek() == "or":
            self.take()
            branches.append(self.both())
        return branches[0] if len(branches) == 1 else (Either(tuple(branches)),)

    def both(self) -> tuple[Clause, ...]:
        clauses = list(self.term())
        while self.peek() == "and":
            self.take()
            clauses += self.term()
        return tuple(clauses)

    def term(self) -> tuple[Clause, ...]:
        token = self.take()
        if token == "(":
            inner = self.either()
            if self.peek() != ")":
                raise InvalidRequest("_filter: a '(' is not closed", expression="_filter")
            self.take()
            return inner
        if token == "not":
            raise InvalidRequest("_filter: 'not' is not supported", code="not-supported",
                                 expression="_filter")
        return (self.comparison(token, self.take().lower(), _value(self.take())),)

    def comparison(self, name: str, op: str, value: str) -> Clause:
        if "[" in name or "." in name:
            raise InvalidRequest(f"_filter: paths such as {name!r} are not supported; "
                                 "use search parameter names", code="not-supported",
                                 expression="_filter")
        if op in _UNSUPPORTED or op not in _SUPPORTED:
            raise InvalidRequest(f"_filter: the operator {op!r} is not supported (supported: "
                                 f"{', '.join(sorted(_SUPPORTED))})", code="not-supported",
                                 expression="_filter")
        kind = self.kind_of(name)
        escaped = value.replace("\\", "\\\\").replace(",", "\\,")
        if kind in _ORDERED and op in ("eq", "ne", "gt", "lt", "ge", "le"):
            return self.clause_of(name, op + escaped)
        if op in ("gt", "lt", "ge", "le"):
            raise _kind_error(op, name, kind)
        if op in ("eq", "ne"):
            clause = self.clause_of(f"{name}:exact" if kind == "string" else name, escaped)
            return _negated(clause) if op == "ne" else clause
        if kind != "string":
            raise _kind_error(op, name, kind)
        if op == "co":
            return self.clause_of(f"{name}:contains", escaped)
        if op == "sw":
            return self.clause_of(name, escaped)
        return Criterion("string", name, (StringTest(normalise(value), "suffix"),))


def _value(token: str) -> str:
    if token.startswith('"'):
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    return token


def _negated(clause: Clause) -> Clause:
    if isinstance(clause, Criterion):
        return replace(clause, negate=not clause.negate)
    raise InvalidRequest("_filter: 'ne' works on plain search parameters only",
                         code="not-supported", expression="_filter")


def _kind_error(op: str, name: str, kind: str) -> InvalidRequest:
    return InvalidRequest(f"_filter: {op!r} does not apply to {name} (a {kind} parameter)",
                          code="not-supported", expression="_filter")


def parse_filter(text: str, clause_of: ClauseOf, kind_of: KindOf) -> tuple[Clause, ...]:
    """The filter as clauses to AND into the query."""
    parser = _Parser(text, clause_of, kind_of)
    if not parser.tokens:
        raise InvalidRequest("_filter is empty", expression="_filter")
    clauses = parser.either()
    if parser.peek() is not None:
        raise InvalidRequest(f"_filter: unexpected {parser.peek()!r}", expression="_filter")
    return clauses
