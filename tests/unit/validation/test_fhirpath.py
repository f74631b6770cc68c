"""fhirpathpy's gaps, shown on the library itself, and our work-arounds for each."""

from __future__ import annotations

from typing import Any

import fhirpathpy
import pytest
from fhirpathpy.models import models

from eolc_fhir.validation.fhirpath import (
    InvariantCompileError,
    called_functions,
    check_syntax,
    compile_expression,
    compile_invariant,
    resource_node,
)

R4 = models["r4"]
PLAN = {
    "resourceType": "CarePlan",
    "status": "active",
    "meta": {"lastUpdated": "2026-01-05T10:00:00Z"},
}
ABSENT = {
    "extension": [
        {
            "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
            "valueCode": "unknown",
        }
    ]
}


def _raw(expression: str, resource: Any, context: dict[str, Any] | None = None) -> list[Any]:
    return fhirpathpy.compile(expression, R4)(resource, context or {})  # type: ignore[no-any-return]


def test_gap_has_value_is_not_implemented() -> None:
    with pytest.raises(Exception, match="Not implemented: hasValue"):
        _raw("status.hasValue()", PLAN)
    ours = compile_expression("status.hasValue()")
    assert ours(PLAN, {}) == [True]
    assert ours({"resourceType": "CarePlan"}, {}) == [False]
    born = compile_expression("birthDate.hasValue()")
    assert born({"resourceType": "Patient", "_birthDate": ABSENT}, {}) == [False]


def test_gap_low_boundary_is_not_implemented() -> None:
    with pytest.raises(Exception, match="Not implemented: lowBoundary"):
        _raw("birthDate.lowBoundary()", {"resourceType": "Patient", "birthDate": "1941"})
    ours = compile_expression("birthDate.lowBoundary()")
    assert ours({"resourceType": "Patient", "birthDate": "1941"}, {}) == ["1941-01-01"]
    assert ours({"resourceType": "Patient", "birthDate": "1941-03"}, {}) == ["1941-03-01"]


def test_gap_this_is_resource_type_is_false() -> None:
    assert _raw("$this is CarePlan", PLAN) == [False]
    assert compile_expression("$this is CarePlan")(PLAN, {}) == [True]
    assert compile_expression("$this is Patient")(PLAN, {}) == [False]


def test_gap_percent_resource_is_undefined() -> None:
    with pytest.raises(ValueError, match="undefined environment variable: resource"):
        _raw("%resource.status", PLAN)
    invariant = compile_invariant(
        {
            "key": "k",
            "severity": "error",
            "human": "h",
            "expression": "%resource.status = 'active'",
        },
        "CarePlan.period",
    )
    assert invariant.holds({"start": "2026-01-01"}, resource_node(PLAN), resource_node(PLAN))
    revoked = resource_node({**PLAN, "status": "revoked"})
    assert not invariant.holds({"start": "2026-01-01"}, revoked, revoked)


def test_gap_syntax_errors_are_silently_accepted() -> None:
    for broken in ("status = ", "status = = 1", "foo(", "((("):
        fhirpathpy.compile(broken, R4)  # the library does not complain
        with pytest.raises(InvariantCompileError, match="syntax error"):
            check_syntax(broken)


def test_gap_unknown_functions_fail_only_when_evaluated() -> None:
    compiled = fhirpathpy.compile("status.frobnicate()", R4)
    with pytest.raises(Exception, match="Not implemented"):
        compiled(PLAN, {})
    assert called_functions("a.where(b.exists()).frobnicate()") == {"where", "exists", "frobnicate"}
    with pytest.raises(InvariantCompileError, match="frobnicate"):
        compile_expression("status.frobnicate()")


def test_gap_of_type_backbone_element_is_refused() -> None:
    with pytest.raises(InvariantCompileError, match="BackboneElement"):
        compile_expression("descendants().ofType(BackboneElement).count() > 0")


def test_choice_elements_on_a_nested_value_need_its_type() -> None:
    # Without a type the library cannot see value[x] on an Extension; we wrap the node.
    extension = {"url": "x", "valueInteger": 12}
    assert _raw("value", extension) == []
    invariant = compile_invariant(
        {"key": "k", "severity": "error", "human": "h", "expression": "value <= 10"}, "Extension"
    )
    assert not invariant.holds(extension, resource_node(PLAN), resource_node(PLAN))
    assert invariant.holds(
        {"url": "x", "valueInteger": 10}, resource_node(PLAN), resource_node(PLAN)
    )


def test_empty_result_counts_as_satisfied() -> None:
    invariant = compile_invariant(
        {"key": "k", "severity": "error", "human": "h", "expression": "period.end > period.start"},
        "CarePlan",
    )
    assert invariant.holds(PLAN, resource_node(PLAN), resource_node(PLAN))
