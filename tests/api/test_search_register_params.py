"""The register's search parameters on both engines: Flag ``prognosis``, CarePlan
``review-date``, ``_hasnot`` and chains into ``_has`` / ``_hasnot`` (one small cohort)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio

from eolc_fhir.storage import search_walk
from tests.api.module_app import engine_name, module_client, module_database
from tests.builders import (
    BASE,
    SCT,
    make_care_plan,
    make_cpr_flag,
    make_preferred_place,
    make_register_flag,
)
from tests.builders_basic import patient

__all__ = ["engine_name"]  # a fixture (module scope)

pytestmark = pytest.mark.asyncio(loop_scope="module")
FHIR = "application/fhir+json"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
REGISTER = f"{BASE}/ValueSet/eolc-register-codes"
CONCEPTS = f"{BASE}/CodeSystem/eolc-concepts"
ACP = f"{SCT}|736366004"
TODAY = date.today()


def _day(days: int) -> str:
    return (TODAY + timedelta(days=days)).isoformat()


def _prognosis(code: str) -> list[dict[str, Any]]:
    return [{"url": f"{BASE}/StructureDefinition/eolc-prognosis",
             "valueCodeableConcept": {"coding": [{"system": SCT, "code": code}]}}]


def _review(day: str) -> list[dict[str, Any]]:
    return [{"url": f"{BASE}/StructureDefinition/eolc-review-date", "valueDate": day}]


def _of(pid: str) -> dict[str, str]:
    return {"reference": f"Patient/{pid}"}


def cohort() -> list[dict[str, Any]]:
    org_a = {"resourceType": "Organization", "id": "org-a", "name": "Riverside Surgery",
             "identifier": [{"system": ODS, "value": "A1111"}]}
    org_b = {"resourceType": "Organization", "id": "org-b", "name": "Hillside Surgery",
             "identifier": [{"system": ODS, "value": "B2222"}]}
    a, b = {"reference": "Organization/org-a"}, {"reference": "Organization/org-b"}
    return [
        org_a, org_b,
        patient(id="p1", nhs="9912003888"), patient(id="p2", nhs="9658220142"),
        patient(id="p3", nhs="9999999468"), patient(id="p4", nhs="9000000009"),
        make_register_flag(id="r1", subject=_of("p1"), author=a,
                           extension=_prognosis("955231000000109")),
        make_register_flag(id="r2", subject=_of("p2"), author=b,
                           extension=_prognosis("968211000000101")),
        make_register_flag(id="r3", subject=_of("p3"), author=a),
        make_register_flag(id="r4", subject=_of("p4"), author=a, status="inactive"),
        make_care_plan(id="acp1", subject=_of("p1"), extension=_review(_day(30))),
        make_care_plan(id="acp2", subject=_of("p2"), extension=_review(_day(-3))),
        make_cpr_flag(id="cpr1", subject=_of("p1")),
        make_cpr_flag(id="cpr2", subject=_of("p2"),
                      period={"start": _day(-200), "end": _day(-1)}),
        make_preferred_place(id="ppd1", subject=_of("p1")),
        make_preferred_place(id="ppd2", subject=_of("p2"), extension=[
            {"url": f"{BASE}/StructureDefinition/eolc-preference-rank", "valuePositiveInt": 2}]),
        make_preferred_place(id="ppc3", subject=_of("p3"), code={"coding": [
            {"system": CONCEPTS, "code": "preferred-place-of-care"}]}),
    ]


@pytest.fixture(scope="module")
def cohort_url(engine_name: str, request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from module_database(engine_name, request, tmp_path_factory, "register_params")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(cohort_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with module_client(cohort_url, cohort(), headers={"Content-Type": FHIR}) as http:
        yield http


async def _ids(client: httpx.AsyncClient, path: str, params: list[tuple[str, str]]
               ) -> list[str]:
    resp = await client.get(path, params=params, headers={"Prefer": "handling=strict"})
    assert resp.status_code == 200, resp.text
    return sorted(e["resource"]["id"] for e in resp.json().get("entry", [])
                  if e["search"]["mode"] == "match")


async def _register(client: httpx.AsyncClient, *more: tuple[str, str]) -> list[str]:
    return await _ids(client, "/Flag", [("code:in", REGISTER), ("status", "active"), *more])


def _cpr_in_date() -> str:
    return (f"(code eq {SCT}|450475007 or code eq {SCT}|450476008) and status eq active "
            f"and date ge {TODAY.isoformat()}")


@pytest.mark.engines("sqlite", "postgresql")
async def test_prognosis_and_review_date_are_search_parameters(
        client: httpx.AsyncClient) -> None:
    assert await _ids(client, "/Flag", [("prognosis", f"{SCT}|955231000000109")]) == ["r1"]
    assert await _ids(client, "/Flag", [("prognosis:missing", "true"),
                                        ("code:in", REGISTER)]) == ["r3", "r4"]
    assert await _ids(client, "/CarePlan", [("review-date", f"lt{TODAY}")]) == ["acp2"]
    assert await _ids(client, "/CarePlan", [("review-date", f"ge{TODAY}")]) == ["acp1"]
    cap = (await client.get("/metadata")).json()
    params = {(r["type"], p["name"]): p.get("definition") for r in cap["rest"][0]["resource"]
              for p in r.get("searchParam", [])}
    assert params[("Flag", "prognosis")] == f"{BASE}/SearchParameter/Flag-prognosis"
    assert params[("CarePlan", "review-date")] == f"{BASE}/SearchParameter/CarePlan-review-date"
    assert any(p["name"] == "_hasnot" for r in cap["rest"][0]["resource"]
               for p in r.get("searchParam", []) if r["type"] == "Patient")


@pytest.mark.engines("sqlite", "postgresql")
async def test_hasnot_is_the_negation_of_has(client: httpx.AsyncClient) -> None:
    has = await _ids(client, "/Patient", [("_has:CarePlan:subject:category", ACP)])
    hasnot = await _ids(client, "/Patient", [("_hasnot:CarePlan:subject:category", ACP)])
    assert has == ["p1", "p2"] and hasnot == ["p3", "p4"]
    both = await _ids(client, "/Patient", [("_hasnot:CarePlan:subject:category", ACP),
                                           ("_has:Flag:subject:code:in", REGISTER)])
    assert both == ["p3", "p4"]


@pytest.mark.engines("sqlite", "postgresql")
async def test_register_filters_chain_into_reverse_chains(client: httpx.AsyncClient) -> None:
    assert await _register(client) == ["r1", "r2", "r3"]
    plan = "patient.{}:CarePlan:subject:category"
    assert await _register(client, (plan.format("_has"), ACP)) == ["r1", "r2"]
    assert await _register(client, (plan.format("_hasnot"), ACP)) == ["r3"]
    cpr = "patient.{}:Flag:subject:_filter"
    assert await _register(client, (cpr.format("_has"), _cpr_in_date())) == ["r1"]
    assert await _register(client, (cpr.format("_hasnot"), _cpr_in_date())) == ["r2", "r3"]
    overdue = ("patient._has:CarePlan:subject:review-date", f"lt{TODAY}")
    assert await _register(client, overdue) == ["r2"]
    no_place = ("patient._hasnot:Observation:subject:_filter",
                f"code eq {CONCEPTS}|preferred-place-of-death and preference-rank eq 1")
    assert await _register(client, no_place) == ["r2", "r3"]
    practice = ("author:Organization.identifier", f"{ODS}|A1111")
    assert await _register(client, practice) == ["r1", "r3"]
    assert await _register(client, practice, no_place) == ["r3"]
    assert await _register(client, ("prognosis", f"{SCT}|968211000000101"), overdue,
                           no_place) == ["r2"]


@pytest.mark.engines("sqlite")
async def test_register_pages_follow_the_servers_links(client: httpx.AsyncClient) -> None:
    url: str | None = "/Flag"
    params: list[tuple[str, str]] | None = [("code:in", REGISTER), ("status", "active"),
                                            ("_include", "Flag:subject"), ("_count", "1")]
    seen: list[str] = []
    while url is not None:
        page = (await client.get(url, params=params)).json()
        seen += [e["resource"]["id"] for e in page["entry"] if e["search"]["mode"] == "match"]
        assert sum(e["resource"]["resourceType"] == "Patient" for e in page["entry"]) == 1
        url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
        params = None
    assert seen == sorted(seen) == ["r1", "r2", "r3"]


@pytest.mark.engines("sqlite")
async def test_bad_reverse_chains_are_400(client: httpx.AsyncClient) -> None:
    for name in ("_hasnot:CarePlan:subject", "subject._has:CarePlan:subject:category",
                 "patient._hasnot:CarePlan:nope:category"):
        resp = await client.get("/Flag" if "." in name else "/Patient",
                                params={name: ACP}, headers={"Prefer": "handling=strict"})
        assert resp.status_code == 400, (name, resp.text)
        assert resp.json()["resourceType"] == "OperationOutcome"


@pytest.mark.engines("sqlite", "postgresql")
async def test_a_broad_driver_walks_in_id_order_with_the_same_answers(
        client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """With every driver 'broad' (one row is enough), pages walk the resources in id order
    and probe each: the same people, the same pages."""
    monkeypatch.setattr(search_walk, "BROAD_ROWS", 1)
    await test_register_filters_chain_into_reverse_chains(client)
    await test_register_pages_follow_the_servers_links(client)
    assert await _ids(client, "/Flag", [("status", "active")]) == [
        "cpr1", "cpr2", "r1", "r2", "r3"]
