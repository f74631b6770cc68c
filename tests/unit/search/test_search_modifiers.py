"""Subsumption over a local CodeSystem hierarchy, and the in-memory matcher on the new
clauses (the API tests hold SQL to the same answers)."""

from __future__ import annotations

import pytest

from eolc_fhir.config import DEFAULT_PROFILES_DIR
from eolc_fhir.fhir.errors import InvalidRequest
from eolc_fhir.search import SearchRegistry, parse_search
from eolc_fhir.search.matcher import matches
from eolc_fhir.storage.query import Criterion, TokenTest
from eolc_fhir.validation.terminology import Terminology

CS = "urn:test:places"
TREE = {"url": CS, "concept": [
    {"code": "care", "concept": [
        {"code": "hospice", "concept": [{"code": "hospice-inpatient"}]},
        {"code": "home"}]},
    {"code": "other"}]}


@pytest.fixture(scope="module")
def registry() -> SearchRegistry:
    registry = SearchRegistry.load(DEFAULT_PROFILES_DIR)
    registry.codes = Terminology([TREE], [])
    return registry


def _codes(registry: SearchRegistry, name: str, value: str) -> set[str]:
    (crit,) = parse_search(registry, "Flag", [(name, value)]).query.clauses
    assert isinstance(crit, Criterion)
    assert all(isinstance(t, TokenTest) and t.system == CS for t in crit.tests)
    return {t.code for t in crit.tests if isinstance(t, TokenTest) and t.code}


def test_below_and_above_follow_the_hierarchy(registry: SearchRegistry) -> None:
    assert _codes(registry, "code:below", f"{CS}|care") == {
        "care", "hospice", "hospice-inpatient", "home"}
    assert _codes(registry, "code:below", f"{CS}|hospice") == {"hospice", "hospice-inpatient"}
    assert _codes(registry, "code:above", f"{CS}|hospice-inpatient") == {
        "care", "hospice", "hospice-inpatient"}
    with pytest.raises(InvalidRequest, match="subsumption is not available"):
        parse_search(registry, "Flag", [("code:below", "http://snomed.info/sct|123")])
    with pytest.raises(InvalidRequest, match="system\\|code"):
        parse_search(registry, "Flag", [("code:below", "care")])


def test_matcher_agrees_on_new_clauses(registry: SearchRegistry) -> None:
    flag = {"resourceType": "Flag", "id": "f", "status": "active",
            "code": {"coding": [{"system": CS, "code": "hospice-inpatient"}]},
            "text": {"status": "generated",
                     "div": '<div xmlns="http://www.w3.org/1999/xhtml">Moved to the hospice</div>'}}
    assert matches(registry, flag, "Flag", [("code:below", f"{CS}|hospice")])
    assert not matches(registry, flag, "Flag", [("code:below", f"{CS}|home")])
    assert matches(registry, flag, "Flag", [("_text", "moved to")])
    assert not matches(registry, flag, "Flag", [("_text", "to moved")])
    assert matches(registry, flag, "Flag", [("_filter", "status eq inactive or status eq active")])
    assert not matches(registry, flag, "Flag", [("_filter", "status ne active")])
