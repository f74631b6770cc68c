"""Profiles at the door: published conformance resources, $validate, terminology, 422s."""

from __future__ import annotations

import httpx
import orjson
import pytest

from tests.builders import (
    BASE,
    make_care_plan,
    make_cpr_flag,
    make_patient_full,
    make_register_flag,
)

pytestmark = pytest.mark.usefixtures("engine_name")


async def test_conformance_resources_are_published_and_searchable(
        client: httpx.AsyncClient) -> None:
    sd = await client.get("/StructureDefinition/EolcCPRDecision")
    assert sd.status_code == 200 and sd.json()["derivation"] == "constraint"
    url = f"{BASE}/StructureDefinition/EolcRegisterEntry"
    found = (await client.get("/StructureDefinition", params={"url": url})).json()
    assert [e["resource"]["url"] for e in found["entry"]] == [url]
    by_name = (await client.get("/ValueSet", params={"name": "EolcPrognosis"})).json()
    assert [e["resource"]["id"] for e in by_name["entry"]] == ["eolc-prognosis"]
    by_version = (await client.get("/CodeSystem", params={
        "url": f"{BASE}/CodeSystem/eolc-place-type", "version": "0.1.0"})).json()
    assert [e["resource"]["name"] for e in by_version["entry"]] == ["EolcPlaceType"]
    none = (await client.get("/CodeSystem", params={"version": "9.9.9"})).json()
    assert "entry" not in none
    for rtype in ("CodeSystem", "SearchParameter"):
        listing = (await client.get(f"/{rtype}", params={"_count": "100"})).json()
        assert listing.get("entry"), rtype
    cs = (await client.get("/metadata")).json()
    flag = next(r for r in cs["rest"][0]["resource"] if r["type"] == "Flag")
    assert f"{BASE}/StructureDefinition/EolcCPRDecision" in flag["supportedProfile"]
    assert any(op["name"] == "validate" for op in flag["operation"])


async def test_invalid_palliative_resource_is_422_with_expression(
        client: httpx.AsyncClient) -> None:
    flag = make_register_flag(period=None)  # the date added to the register is required
    resp = await client.post("/Flag", content=orjson.dumps(flag))
    assert resp.status_code == 422, resp.text
    issues = resp.json()["issue"]
    assert any("Flag.period" in e for i in issues for e in i.get("expression", []))
    assert (await client.get("/Flag/_history")).json()["total"] == 0


async def test_cpr_review_date_must_follow_decision(client: httpx.AsyncClient) -> None:
    flag = make_cpr_flag(period={"start": "2026-05-01", "end": "2026-04-01"})
    resp = await client.post("/Flag", content=orjson.dumps(flag))
    assert resp.status_code == 422
    assert any(i["code"] == "invariant" for i in resp.json()["issue"])


async def test_warnings_do_not_block_and_come_back_on_request(
        client: httpx.AsyncClient) -> None:
    plan = make_care_plan()
    plan["extension"] = [e for e in plan.get("extension", []) if "review-date" not in e["url"]]
    plan["extension"].append({"url": f"{BASE}/StructureDefinition/eolc-review-date",
                              "valueDate": "2099-01-01"})  # far beyond 3 months: a warning
    resp = await client.post("/CarePlan", content=orjson.dumps(plan),
                             headers={"Prefer": "return=OperationOutcome"})
    assert resp.status_code == 201, resp.text
    issues = resp.json()["issue"]
    assert any(i["severity"] == "warning" for i in issues), issues


async def test_transaction_entry_failing_a_profile_rolls_back(client: httpx.AsyncClient) -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": make_patient_full(), "request": {"method": "POST", "url": "Patient"}},
        {"resource": make_register_flag(period=None),
         "request": {"method": "POST", "url": "Flag"}},
    ]}
    resp = await client.post("/", content=orjson.dumps(bundle))
    assert resp.status_code == 422
    exprs = [e for i in resp.json()["issue"] for e in i.get("expression", [])]
    assert any(e.startswith("Bundle.entry[1].resource") for e in exprs), exprs
    assert (await client.get("/Patient/_history")).json()["total"] == 0


async def test_validate_operation(client: httpx.AsyncClient) -> None:
    good = await client.post("/Flag/$validate", content=orjson.dumps(make_cpr_flag()))
    assert good.status_code == 200
    assert all(i["severity"] not in ("error", "fatal") for i in good.json()["issue"])
    bad_flag = make_cpr_flag(author=None)
    bad = await client.post("/Flag/$validate", content=orjson.dumps(bad_flag))
    assert bad.status_code == 200
    assert any(i["severity"] == "error" and "Flag.author" in i.get("expression", [])
               for i in bad.json()["issue"])
    params = {"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": bad_flag}, {"name": "mode", "valueCode": "create"}]}
    via_params = await client.post("/Flag/$validate", content=orjson.dumps(params))
    assert via_params.json()["issue"] == bad.json()["issue"]
    structural = await client.post("/Patient/$validate",
                                   content=b'{"resourceType":"Patient","birthDate":"2023-02-30"}')
    assert structural.status_code == 200
    assert "Patient.birthDate" in structural.json()["issue"][0]["expression"]
    unknown = await client.post("/Flag/$validate", params={"profile": f"{BASE}/nope"},
                                content=orjson.dumps(make_cpr_flag()))
    assert unknown.json()["issue"][0]["code"] == "not-supported"
    # nothing was written by $validate
    assert (await client.get("/Flag/_history")).json()["total"] == 0


async def test_terminology_operations(client: httpx.AsyncClient) -> None:
    url = f"{BASE}/ValueSet/eolc-cpr-decision"
    expansion = (await client.get("/ValueSet/$expand", params={"url": url})).json()
    codes = {c["code"] for c in expansion["expansion"]["contains"]}
    assert codes == {"450475007", "450476008"}
    by_id = (await client.get("/ValueSet/eolc-cpr-decision/$expand")).json()
    assert {c["code"] for c in by_id["expansion"]["contains"]} == codes
    ok = (await client.get("/ValueSet/$validate-code", params={
        "url": url, "system": "http://snomed.info/sct", "code": "450476008"})).json()
    assert next(p for p in ok["parameter"] if p["name"] == "result")["valueBoolean"] is True
    no = (await client.get("/ValueSet/$validate-code", params={
        "url": url, "system": "http://snomed.info/sct", "code": "123"})).json()
    assert next(p for p in no["parameter"] if p["name"] == "result")["valueBoolean"] is False
    found = (await client.get("/CodeSystem/$lookup", params={
        "system": f"{BASE}/CodeSystem/eolc-place-type", "code": "30"})).json()
    assert any(p["name"] == "display" for p in found["parameter"])
    missing = await client.get("/CodeSystem/$lookup", params={"system": "x"})
    assert missing.status_code == 400
