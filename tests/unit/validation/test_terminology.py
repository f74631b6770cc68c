"""$expand, $validate-code and $lookup over the local CodeSystems and ValueSets."""

from __future__ import annotations

from typing import Any

import pytest

from eolc_fhir.fhir.errors import InvalidRequest, NotFound
from eolc_fhir.fhir.models import model_class
from eolc_fhir.validation import ProfileSet, Terminology

BASE = "https://eolc.example.org/fhir"
SCT = "http://snomed.info/sct"
PLACE = f"{BASE}/CodeSystem/eolc-place-type"
PREFERRED = f"{BASE}/ValueSet/eolc-preferred-place"


def _params(result: dict[str, Any]) -> dict[str, Any]:
    model_class("Parameters").model_validate(result)
    return {
        p["name"]: next(v for k, v in p.items() if k.startswith("value"))
        for p in result["parameter"]
    }


def test_expand_includes_a_whole_code_system_and_enumerated_findings(
    profile_set: ProfileSet,
) -> None:
    expanded = profile_set.terminology.expand(PREFERRED)
    model_class("ValueSet").model_validate(expanded)
    codes = {(c["system"], c["code"]) for c in expanded["expansion"]["contains"]}
    assert {
        (PLACE, "21"),
        (PLACE, "30"),
        (SCT, "517161000000101"),
        (SCT, "819211000000102"),
    } <= codes
    assert expanded["expansion"]["total"] == len(codes) == 12
    assert "compose" not in expanded and expanded["url"] == PREFERRED


def test_expand_with_a_text_filter(profile_set: ProfileSet) -> None:
    expanded = profile_set.terminology.expand(PREFERRED, filter="care home")
    assert [c["code"] for c in expanded["expansion"]["contains"]] == ["41", "42"]
    assert expanded["expansion"]["parameter"] == [{"name": "filter", "valueString": "care home"}]


def test_expand_unknown_value_set(profile_set: ProfileSet) -> None:
    with pytest.raises(NotFound):
        profile_set.terminology.expand(f"{BASE}/ValueSet/nope")


def test_validate_code_in_a_value_set(profile_set: ProfileSet) -> None:
    term = profile_set.terminology
    vs = f"{BASE}/ValueSet/eolc-cpr-decision"
    assert _params(term.validate_code(vs, SCT, "450476008"))["result"] is True
    assert _params(term.validate_code(vs + "|0.1.0", SCT, "450476008"))["result"] is True
    refused = _params(term.validate_code(vs, SCT, "526631000000108"))
    assert refused["result"] is False and "526631000000108" in refused["message"]
    assert _params(term.validate_code(vs, "http://other.org", "450476008"))["result"] is False


def test_validate_code_checks_the_display(profile_set: ProfileSet) -> None:
    term = profile_set.terminology
    vs = f"{BASE}/ValueSet/eolc-cpr-decision"
    good = _params(
        term.validate_code(vs, SCT, "450475007", "for attempted cardiopulmonary resuscitation")
    )
    assert (
        good["result"] is True and good["display"] == "For attempted cardiopulmonary resuscitation"
    )
    wrong = _params(term.validate_code(vs, SCT, "450475007", "Not for CPR"))
    assert wrong["result"] is False and "display" in wrong["message"]


def test_validate_code_in_a_code_system(profile_set: ProfileSet) -> None:
    term = profile_set.terminology
    assert _params(term.validate_code(PLACE, PLACE, "30"))["result"] is True
    assert _params(term.validate_code(PLACE, None, "99"))["result"] is False
    assert _params(term.validate_code(PLACE, SCT, "30"))["result"] is False
    with pytest.raises(NotFound):
        term.validate_code("https://x.org/nothing", None, "1")


def test_lookup_local_code_system(profile_set: ProfileSet) -> None:
    result = _params(profile_set.terminology.lookup(PLACE, "41"))
    assert result["display"] == "Care home with nursing"
    assert result["name"] == "EolcPlaceType" and result["version"] == "0.1.0"
    assert "nursing" in result["definition"]
    with pytest.raises(NotFound):
        profile_set.terminology.lookup(PLACE, "99")


def test_lookup_snomed_code_known_through_our_value_sets(profile_set: ProfileSet) -> None:
    result = _params(profile_set.terminology.lookup(SCT, "736366004"))
    assert result["display"] == "Advance care plan"
    with pytest.raises(NotFound):
        profile_set.terminology.lookup(SCT, "22298006")


def test_value_set_composition_include_valueset_and_exclude() -> None:
    cs = {
        "resourceType": "CodeSystem",
        "url": "urn:cs",
        "status": "active",
        "content": "complete",
        "concept": [{"code": "a", "display": "A", "concept": [{"code": "a1"}]}, {"code": "b"}],
    }
    everything = {
        "resourceType": "ValueSet",
        "url": "urn:all",
        "status": "active",
        "compose": {"include": [{"system": "urn:cs"}]},
    }
    no_b = {
        "resourceType": "ValueSet",
        "url": "urn:no-b",
        "status": "active",
        "compose": {
            "include": [{"valueSet": ["urn:all"]}],
            "exclude": [{"system": "urn:cs", "concept": [{"code": "b"}]}],
        },
    }
    term = Terminology([cs], [everything, no_b])
    assert [c.code for c in term.concepts("urn:all")] == ["a", "b", "a1"]
    assert [c.code for c in term.concepts("urn:no-b")] == ["a", "a1"]
    assert term.contains("urn:no-b", "urn:cs", "a1") and not term.contains(
        "urn:no-b", "urn:cs", "b"
    )
    assert term.contains("urn:no-b", None, "a") and not term.contains("urn:nope", None, "a")


def test_value_set_that_includes_itself_or_an_unknown_system_is_refused() -> None:
    loop = {
        "resourceType": "ValueSet",
        "url": "urn:loop",
        "status": "active",
        "compose": {"include": [{"valueSet": ["urn:loop"]}]},
    }
    with pytest.raises(InvalidRequest, match="includes itself"):
        Terminology([], [loop])
    whole = {
        "resourceType": "ValueSet",
        "url": "urn:w",
        "status": "active",
        "compose": {"include": [{"system": SCT}]},
    }
    with pytest.raises(InvalidRequest, match="does not hold"):
        Terminology([], [whole])
