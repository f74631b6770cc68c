"""Search features of issue 16 on both engines: composites, terminology modifiers, :of-type,
_text / _content, _list, _filter, _total=estimate (one small cohort per engine)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.api.module_app import engine_name, module_client, module_database
from tests.builders import (
    BASE,
    PLACE_TYPE,
    SCT,
    make_cpr_flag,
    make_preferred_place,
    make_register_flag,
)
from tests.builders_basic import patient

__all__ = ["engine_name"]  # a fixture (module scope)

pytestmark = pytest.mark.asyncio(loop_scope="module")
FHIR = "application/fhir+json"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"


def _narrative(text: str) -> dict[str, str]:
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{text}</div>'}


def _mmhg(value: float) -> dict[str, Any]:
    return {"value": value, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}


def _bp(rid: str, subject: str, systolic: float, diastolic: float) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": rid, "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
            "subject": {"reference": f"Patient/{subject}"},
            "component": [
                {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                 "valueQuantity": _mmhg(systolic)},
                {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                 "valueQuantity": _mmhg(diastolic)}]}


HL7_CS = "http://terminology.hl7.org/CodeSystem"


def _sct(code: str) -> dict[str, Any]:
    return {"coding": [{"system": "http://snomed.info/sct", "code": code}]}


def cohort() -> list[dict[str, Any]]:
    mrn = {"type": {"coding": [{"system": V2_0203, "code": "MR"}]}, "system": "urn:hosp",
           "value": "H123"}
    p1 = patient(id="p1", nhs="9912003888", birthDate="1940-01-01",
                 name=[{"family": "Brown", "given": ["Ada"]}],
                 text=_narrative("Lives with her daughter; would prefer <b>hospice</b> care"))
    p1["identifier"].append(mrn)
    return [
        p1,
        patient(id="p2", nhs="9658220142", birthDate="1950-06-01",
                name=[{"family": "Okonkwo", "given": ["Chidi"]}],
                text=_narrative("Wishes to die at home")),
        patient(id="p3", nhs="9999999468", birthDate="1960-06-01",
                name=[{"family": "Brownlow", "given": ["Bea"]}]),
        make_register_flag(id="f-reg", subject={"reference": "Patient/p1"}),
        make_cpr_flag(id="f-cpr", subject={"reference": "Patient/p2"}),
        _bp("bp1", "p1", 150, 90),
        _bp("bp2", "p2", 110, 150),  # a high value, but not the systolic one
        {"resourceType": "Observation", "id": "wt", "status": "final",
         "code": {"coding": [{"system": LOINC, "code": "29463-7"}]},
         "valueQuantity": {"value": 70, "unit": "kg", "system": UCUM, "code": "kg"}},
        make_preferred_place(id="place", subject={"reference": "Patient/p1"},
                             valueCodeableConcept={"coding": [{"system": PLACE_TYPE,
                                                               "code": "21"}]}),
        {"resourceType": "Group", "id": "g1", "type": "person", "actual": False,
         "characteristic": [{"code": _sct("363346000"), "valueCodeableConcept": _sct("254837009"),
                             "exclude": False}]},
        {"resourceType": "Library", "id": "lib1", "status": "active",
         "type": {"coding": [{"system": f"{HL7_CS}/library-type", "code": "logic-library"}]},
         "useContext": [
             {"code": {"system": f"{HL7_CS}/usage-context-type", "code": "focus"},
              "valueCodeableConcept": _sct("103735009")},
             {"code": {"system": f"{HL7_CS}/usage-context-type", "code": "age"},
              "valueQuantity": {"value": 65, "unit": "a", "system": UCUM, "code": "a"}}]},
        {"resourceType": "List", "id": "list1", "status": "current", "mode": "working",
         "entry": [{"item": {"reference": "Patient/p1"}},
                   {"item": {"reference": "Patient/p3"}}]},
    ]


@pytest.fixture(scope="module")
def cohort_url(engine_name: str, request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from module_database(engine_name, request, tmp_path_factory, "features")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(cohort_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with module_client(cohort_url, cohort(), headers={"Content-Type": FHIR}) as http:
        yield http


async def _ids(client: httpx.AsyncClient, path: str, **params: str) -> list[str]:
    resp = await client.get(path, params=params, headers={"Prefer": "handling=strict"})
    assert resp.status_code == 200, resp.text
    return sorted(e["resource"]["id"] for e in resp.json().get("entry", [])
                  if e["search"]["mode"] == "match")


async def _refused(client: httpx.AsyncClient, path: str, **params: str) -> str:
    resp = await client.get(path, params=params)
    assert resp.status_code == 400, resp.text
    issue = resp.json()["issue"][0]
    return f"{issue['code']}: {issue['diagnostics']}"


async def test_composite_pairs_values_of_one_component(client: httpx.AsyncClient) -> None:
    search = "component-code-value-quantity"
    assert await _ids(client, "/Observation", **{search: f"{LOINC}|8480-6$gt140"}) == ["bp1"]
    # bp2 has a value above 140 and a systolic component, but not in the same component
    assert await _ids(client, "/Observation", **{search: "8480-6$gt100"}) == ["bp1", "bp2"]
    assert await _ids(client, "/Observation", **{search: "|8480-6$gt100"}) == []
    assert await _ids(client, "/Observation",
                      **{search: f"{LOINC}|8480-6$gt140,{LOINC}|8462-4$gt140"}) == ["bp1", "bp2"]
    assert await _ids(client, "/Observation", **{
        "code-value-quantity": f"{LOINC}|29463-7$70|{UCUM}|kg"}) == ["wt"]
    assert await _ids(client, "/Observation", **{"code-value-quantity": "29463-7$gt70"}) == []
    assert await _ids(client, "/Observation", **{
        "combo-code-value-quantity": "8462-4$ge150"}) == ["bp2"]
    concepts = f"{BASE}/CodeSystem/eolc-concepts"
    assert await _ids(client, "/Observation", **{
        "code-value-concept": f"{concepts}|preferred-place-of-death${PLACE_TYPE}|21"}) == ["place"]
    assert "'$'" in await _refused(client, "/Observation", **{search: "8480-6"})


async def test_composites_of_group_and_of_canonical_resources(client: httpx.AsyncClient) -> None:
    sct = "http://snomed.info/sct"
    assert await _ids(client, "/Group", **{
        "characteristic-value": f"{sct}|363346000${sct}|254837009"}) == ["g1"]
    assert await _ids(client, "/Group", **{
        "characteristic-value": f"{sct}|363346000${sct}|1"}) == []
    assert await _ids(client, "/Library", **{
        "context-type-value": f"focus${sct}|103735009"}) == ["lib1"]
    assert await _ids(client, "/Library", **{"context-type-value": "age$103735009"}) == []
    assert await _ids(client, "/Library", **{"context-type-quantity": "age$ge60"}) == ["lib1"]
    assert await _ids(client, "/Library", **{"context-type-quantity": "age$gt65"}) == []


async def test_in_and_not_in_expand_our_value_sets(client: httpx.AsyncClient) -> None:
    register = f"{BASE}/ValueSet/eolc-register-codes"
    assert await _ids(client, "/Flag", **{"code:in": register}) == ["f-reg"]
    assert await _ids(client, "/Flag", **{"code:not-in": register}) == ["f-cpr"]
    cpr = f"{BASE}/ValueSet/eolc-cpr-decision"
    assert await _ids(client, "/Flag", **{"code:in": f"{register},{cpr}"}) == ["f-cpr", "f-reg"]
    assert "not held" in await _refused(client, "/Flag", **{"code:in": f"{BASE}/ValueSet/nope"})


async def test_below_and_above_use_local_hierarchies_only(client: httpx.AsyncClient) -> None:
    assert await _ids(client, "/Observation",
                      **{"value-concept:below": f"{PLACE_TYPE}|21"}) == ["place"]
    assert await _ids(client, "/Observation",
                      **{"value-concept:above": f"{PLACE_TYPE}|21"}) == ["place"]
    assert await _ids(client, "/Observation",
                      **{"value-concept:below": f"{PLACE_TYPE}|22"}) == []
    message = await _refused(client, "/Flag", **{"code:below": f"{SCT}|526631000000108"})
    assert message.startswith("not-supported") and "subsumption is not available" in message


async def test_of_type_on_identifier(client: httpx.AsyncClient) -> None:
    assert await _ids(client, "/Patient",
                      **{"identifier:of-type": f"{V2_0203}|MR|H123"}) == ["p1"]
    assert await _ids(client, "/Patient", **{"identifier:of-type": "|MR|H123"}) == ["p1"]
    assert await _ids(client, "/Patient", **{"identifier:of-type": f"{V2_0203}|MR|H999"}) == []
    assert await _ids(client, "/Patient", **{"identifier:of-type": f"{V2_0203}|PI|H123"}) == []
    assert "system|code|value" in await _refused(client, "/Patient",
                                                 **{"identifier:of-type": "MR|H123"})


async def test_text_and_content(client: httpx.AsyncClient) -> None:
    assert await _ids(client, "/Patient", _text="HOSPICE") == ["p1"]
    assert await _ids(client, "/Patient", _text="hosp") == ["p1"]  # words match by their start
    assert await _ids(client, "/Patient", _text="ospice") == []
    assert await _ids(client, "/Patient", _text="die at home") == ["p2"]  # a phrase
    assert await _ids(client, "/Patient", _text="home at") == []
    assert await _ids(client, "/Patient", _text="okonkwo") == []  # the name is not narrative
    assert await _ids(client, "/Patient", _content="okonkwo") == ["p2"]
    assert await _ids(client, "/Patient", _content="hospice,okonkwo") == ["p1", "p2"]
    assert await _ids(client, "/Patient", _content="brown") == ["p1", "p3"]
    assert await _ids(client, "/Patient", _content="brown", gender="male") == []


async def test_list_members(client: httpx.AsyncClient) -> None:
    assert await _ids(client, "/Patient", _list="list1") == ["p1", "p3"]
    assert await _ids(client, "/Patient", _list="list1", family="brownlow") == ["p3"]
    assert await _ids(client, "/Flag", _list="list1") == []
    assert await _ids(client, "/Patient", _list="nope") == []
    assert "functional lists" in await _refused(client, "/Patient", _list="$current-problems")


async def test_filter_common_subset(client: httpx.AsyncClient) -> None:
    async def found(expr: str, path: str = "/Patient") -> list[str]:
        return await _ids(client, path, _filter=expr)

    assert await found('family eq "Okonkwo"') == ["p2"]
    assert await found("family ne Okonkwo") == ["p1", "p3"]
    assert await found("family sw brown") == ["p1", "p3"]
    assert await found("family co ONKW") == ["p2"]
    assert await found("family ew low") == ["p3"]
    assert await found("birthdate lt 1945-01-01 or birthdate ge 1960") == ["p1", "p3"]
    assert await found("(family sw brown or family eq Okonkwo) and birthdate gt 1945") == [
        "p2", "p3"]
    assert await found("birthdate le 1950-06-01 and (family co own or family co kwo)") == [
        "p1", "p2"]
    assert await found(f"code eq {SCT}|450476008", "/Flag") == ["f-cpr"]
    assert await found("status ne active", "/Flag") == []
    assert await found('subject eq "Patient/p1"', "/Flag") == ["f-reg"]
    for bad, says in (("family pr true", "'pr'"), ("not (family eq x)", "'not'"),
                      ("name.given eq Ada", "paths"), ("shoe-size eq 9", "shoe-size"),
                      ("family eq", "too soon"), ("(family eq x", "not closed"),
                      ("gender gt male", "does not apply")):
        assert says in await _refused(client, "/Patient", _filter=bad), bad


async def test_total_estimate_and_accurate(client: httpx.AsyncClient) -> None:
    for total in ("estimate", "accurate"):
        resp = await client.get("/Patient", params={"_total": total, "_count": "1"})
        assert resp.json()["total"] == 3
    resp = await client.get("/Patient", params={"_total": "none", "_count": "1"})
    assert "total" not in resp.json()


async def test_capability_statement_names_them(client: httpx.AsyncClient) -> None:
    statement = (await client.get("/metadata")).json()
    by_type = {r["type"]: r for r in statement["rest"][0]["resource"]}
    obs = {p["name"]: p for p in by_type["Observation"]["searchParam"]}
    assert obs["component-code-value-quantity"]["type"] == "composite"
    assert obs["code-value-concept"]["definition"].endswith("Observation-code-value-concept")
    patient_params = {p["name"]: p for p in by_type["Patient"]["searchParam"]}
    for name in ("_text", "_content", "_list", "_filter"):
        assert name in patient_params
    assert ":of-type" in patient_params["identifier"]["documentation"]
