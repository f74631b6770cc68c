"""Parsing search parameters into plans: errors, leniency, chains, controls."""

from __future__ import annotations

import pytest

from eolc_fhir.config import DEFAULT_PROFILES_DIR
from eolc_fhir.fhir.errors import InvalidRequest
from eolc_fhir.search import SearchRegistry, UnknownParameter, parse_search
from eolc_fhir.storage.query import Chain, Criterion, Has, ReferenceTest, SortKey, TokenTest

REGISTRY = SearchRegistry.load(DEFAULT_PROFILES_DIR)


def test_token_forms() -> None:
    query = parse_search(REGISTRY, "Patient", [("identifier", "s|c,|c,s|,c")]).query
    (crit,) = query.clauses
    assert isinstance(crit, Criterion)
    assert crit.tests == (TokenTest("c", "s", False), TokenTest("c", None, False),
                          TokenTest(None, "s", False), TokenTest("c", None, True))


def test_unknown_parameter_and_leniency() -> None:
    with pytest.raises(UnknownParameter):
        parse_search(REGISTRY, "Patient", [("nope", "1")])
    parsed = parse_search(REGISTRY, "Patient", [("nope", "1"), ("gender", "male")], lenient=True)
    assert parsed.ignored == ["nope"]
    assert parsed.used == [("gender", "male")]


@pytest.mark.parametrize("params", [
    [("birthdate", "1940-13")], [("gender:exact", "x")], [("general-practitioner:Flag", "1")],
    [("_count", "-1")], [("_summary", "maybe")], [("active:missing", "yes")],
    [("_has:Flag:status:code", "x")],
])
def test_invalid_requests(params: list[tuple[str, str]]) -> None:
    with pytest.raises(InvalidRequest):
        parse_search(REGISTRY, "Patient", params)


def test_reference_to_own_base_is_relative() -> None:
    query = parse_search(REGISTRY, "Flag", [("patient", "https://h/fhir/Patient/1")],
                         base_url="https://h/fhir").query
    assert query.clauses[0] == Criterion("reference", "patient",
                                         (ReferenceTest("1", ("Patient",)),))


def test_chain_and_has_plans() -> None:
    query = parse_search(REGISTRY, "Flag", [("patient.general-practitioner.identifier", "x")]).query
    (chain,) = query.clauses
    assert isinstance(chain, Chain) and chain.targets[0].resource_type == "Patient"
    inner = chain.targets[0].clauses[0]
    assert isinstance(inner, Chain)
    assert {q.resource_type for q in inner.targets} == {"Organization", "Practitioner",
                                                        "PractitionerRole"}
    query = parse_search(REGISTRY, "Patient", [("_has:Flag:patient:code", "x")]).query
    (has,) = query.clauses
    assert isinstance(has, Has) and has.source.resource_type == "Flag"


def test_controls() -> None:
    parsed = parse_search(REGISTRY, "Flag", [
        ("_count", "5000"), ("_sort", "-date,_id"), ("_include", "Flag:patient"),
        ("_revinclude:iterate", "Provenance:target"), ("_total", "accurate"),
        ("_elements", "status,code")])
    c = parsed.controls
    assert c.count == 1000
    assert c.sort == (SortKey("date", "date", True), SortKey("_id", None, False))
    assert c.includes[0].param == "patient" and c.revincludes[0].iterate
    assert c.total == "accurate" and c.elements == ("status", "code")
