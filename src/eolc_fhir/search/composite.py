# ruff: noqa: E501  (a data table: one parameter per line reads best)
"""Composite search parameters (R4 Observation's ``code-value-*``, Group's ``characteristic-value``,
every canonical resource's ``context-type-value`` / ``-quantity``): definitions, index rows, plans.

Each composite here pairs a token (the first component) with a value of another
kind, both read from the same element (the resource, or one ``component``). Its
index rows are the second component's rows, kept under a parameter name that
carries the first component: ``code-value-quantity$<digest of system|code>``
(and of ``*|code``, for a code given without a system). A search for
``code-value-quantity=http://loinc.org|8480-6$gt100`` is then one ordinary
quantity lookup, and a pair never matches across two different components.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from eolc_fhir.search import extract as ex
from eolc_fhir.search.expression import CompiledExpression, compile_expression
from eolc_fhir.search.standard import STANDARD_URL
from eolc_fhir.storage.model import IndexRows

__all__ = ["Composite", "COMPOSITES", "composite_rows", "composite_param"]

# base code roots first-component second-component second-kind
_TABLE = """
Observation code-value-concept . code value.as(CodeableConcept) token
Observation code-value-date . code value date
Observation code-value-quantity . code value.as(Quantity) quantity
Observation code-value-string . code value.as(string) string
Observation combo-code-value-concept .,component code value.as(CodeableConcept) token
Observation combo-code-value-quantity .,component code value.as(Quantity) quantity
Observation component-code-value-concept component code value.as(CodeableConcept) token
Observation component-code-value-quantity component code value.as(Quantity) quantity
Group characteristic-value characteristic code value.as(CodeableConcept) token
"""
# R4 gives every canonical resource with a ``useContext`` the same two composites.
_USE_CONTEXT_TYPES = (
    "ActivityDefinition", "CapabilityStatement", "ChargeItemDefinition", "CodeSystem",
    "CompartmentDefinition", "ConceptMap", "EventDefinition", "Evidence", "EvidenceVariable",
    "GraphDefinition", "ImplementationGuide", "Library", "Measure", "MessageDefinition",
    "NamingSystem", "OperationDefinition", "PlanDefinition", "Questionnaire",
    "ResearchDefinition", "ResearchElementDefinition", "SearchParameter", "StructureDefinition",
    "StructureMap", "TerminologyCapabilities", "TestScript", "ValueSet",
)
_USE_CONTEXT = """
{t} context-type-value useContext code value.as(CodeableConcept) token
{t} context-type-quantity useContext code value.as(Quantity) quantity
"""


@dataclass(frozen=True)
class Composite:
    base: str
    code: str
    roots: tuple[CompiledExpression | None, ...]  # None: the resource itself
    first: CompiledExpression
    second: CompiledExpression
    kind: str  # the second component's kind

    @property
    def url(self) -> str:
        return f"{STANDARD_URL}{self.base}-{self.code}"


def _path(relative: str) -> CompiledExpression:
    return compile_expression(f"X.{relative}")


def _load() -> dict[tuple[str, str], Composite]:
    out = {}
    lines = _TABLE.strip().splitlines()
    for rtype in _USE_CONTEXT_TYPES:
        lines += _USE_CONTEXT.format(t=rtype).strip().splitlines()
    for line in lines:
        base, code, roots, first, second, kind = line.split()
        compiled = tuple(None if r == "." else _path(r) for r in roots.split(","))
        out[(base, code)] = Composite(base, code, compiled, _path(first), _path(second), kind)
    return out


COMPOSITES = _load()


def composite_param(code: str, system: str | None, token: str) -> str:
    digest = hashlib.blake2b(f"{system}|{token}".encode(), digest_size=8).hexdigest()
    return f"{code}${digest}"


def _roots(composite: Composite, resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for root in composite.roots:
        nodes = [resource] if root is None else root.evaluate(resource)
        yield from (n for n in nodes if isinstance(n, dict))


def composite_rows(composite: Composite, resource: dict[str, Any], rows: IndexRows) -> None:
    """Add the composite's rows for one resource (see the module's docstring)."""
    for node in _roots(composite, resource):
        seconds = composite.second.evaluate(node)
        if not seconds:
            continue
        params: set[str] = set()
        for token in ex.token_rows(composite.code, composite.first.evaluate(node)):
            if token.code is not None:
                params.add(composite_param(composite.code, token.system or "", token.code))
                params.add(composite_param(composite.code, "*", token.code))
        for param in sorted(params):
            ex.add_rows(rows, param, composite.kind, seconds)
