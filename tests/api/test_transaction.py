"""batch and transaction Bundles at POST /."""

from __future__ import annotations

import httpx
import orjson
import pytest

from tests.builders_basic import NHS, patient

pytestmark = pytest.mark.usefixtures("engine_name")


def _flag(subject: str) -> dict:
    return {"resourceType": "Flag", "status": "active",
            "code": {"text": "Key safe by the front door"}, "subject": {"reference": subject}}


def _bundle(kind: str, *entries: dict) -> bytes:
    return orjson.dumps({"resourceType": "Bundle", "type": kind, "entry": list(entries)})


async def _count(client: httpx.AsyncClient, rtype: str) -> int:
    return int((await client.get(f"/{rtype}/_history")).json()["total"])


async def test_transaction_resolves_urn_uuid_references(client: httpx.AsyncClient) -> None:
    urn = "urn:uuid:1f1b8e6c-3d3a-4b7e-9a65-1d7b1c1e0a01"
    body = _bundle(
        "transaction",
        {"fullUrl": "urn:uuid:aaaa0000-0000-4000-8000-000000000001",
         "resource": _flag(urn), "request": {"method": "POST", "url": "Flag"}},
        {"fullUrl": urn, "resource": patient(), "request": {"method": "POST", "url": "Patient"}},
    )
    resp = await client.post("/", content=body)
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["type"] == "transaction-response"
    flag_entry, patient_entry = out["entry"]  # response order follows the request order
    assert patient_entry["response"]["status"].startswith("201")
    assert patient_entry["response"]["location"].startswith("Patient/")
    assert patient_entry["response"]["etag"] == 'W/"1"'
    pid = patient_entry["resource"]["id"]
    flag = (await client.get(f"/Flag/{flag_entry['resource']['id']}")).json()
    assert flag["subject"]["reference"] == f"Patient/{pid}"


async def test_transaction_is_all_or_nothing(client: httpx.AsyncClient) -> None:
    before = await _count(client, "Patient")
    bad = {**patient(), "birthDate": "2023-02-30"}
    body = _bundle(
        "transaction",
        {"resource": patient(), "request": {"method": "POST", "url": "Patient"}},
        {"resource": bad, "request": {"method": "POST", "url": "Patient"}},
    )
    resp = await client.post("/", content=body)
    assert resp.status_code == 400
    issues = resp.json()["issue"]
    assert any("Bundle.entry[1]" in e for i in issues for e in i.get("expression", []))
    assert await _count(client, "Patient") == before


async def test_transaction_failure_in_later_entry_rolls_back(client: httpx.AsyncClient) -> None:
    before = await _count(client, "Patient")
    body = _bundle(
        "transaction",
        {"resource": patient(), "request": {"method": "POST", "url": "Patient"}},
        {"resource": patient(id="x"), "request": {"method": "PUT", "url": "Patient/y"}},
    )
    resp = await client.post("/", content=body)
    assert resp.status_code == 400
    assert "Bundle.entry[1]" in resp.json()["issue"][0]["diagnostics"]
    assert await _count(client, "Patient") == before


async def test_transaction_processing_order(client: httpx.AsyncClient) -> None:
    existing = (await client.post("/Patient", content=orjson.dumps(patient()))).json()["id"]
    body = _bundle(
        "transaction",
        {"resource": patient(id="put-me"), "request": {"method": "PUT", "url": "Patient/put-me"}},
        {"request": {"method": "GET", "url": "Patient/put-me"}},
        {"request": {"method": "DELETE", "url": f"Patient/{existing}"}},
        {"resource": patient(), "request": {"method": "POST", "url": "Patient"}},
    )
    resp = await client.post("/", content=body)
    assert resp.status_code == 200, resp.text
    put, get, delete, post = resp.json()["entry"]
    assert put["response"]["status"].startswith("201")
    # GET runs after PUT although it came first in the Bundle, so it finds the new resource
    assert get["resource"]["id"] == "put-me"
    assert delete["response"]["status"].startswith("204")
    assert post["response"]["status"].startswith("201")
    assert (await client.get(f"/Patient/{existing}")).status_code == 410


async def test_transaction_get_after_delete_fails(client: httpx.AsyncClient) -> None:
    existing = (await client.post("/Patient", content=orjson.dumps(patient()))).json()["id"]
    body = _bundle(
        "transaction",
        {"request": {"method": "GET", "url": f"Patient/{existing}"}},
        {"request": {"method": "DELETE", "url": f"Patient/{existing}"}},
    )
    resp = await client.post("/", content=body)
    # DELETE is processed before GET, so the GET finds nothing and everything rolls back
    assert resp.status_code == 404
    assert (await client.get(f"/Patient/{existing}")).status_code == 200


async def test_transaction_conditional_create_inside(client: httpx.AsyncClient) -> None:
    first = (await client.post("/Patient", content=orjson.dumps(patient()))).json()["id"]
    urn = "urn:uuid:2f1b8e6c-3d3a-4b7e-9a65-1d7b1c1e0a02"
    body = _bundle(
        "transaction",
        {"fullUrl": urn, "resource": patient(),
         "request": {"method": "POST", "url": "Patient",
                     "ifNoneExist": f"identifier={NHS}|9912003888"}},
        {"resource": _flag(urn), "request": {"method": "POST", "url": "Flag"}},
    )
    resp = await client.post("/", content=body)
    assert resp.status_code == 200, resp.text
    pat, flag = resp.json()["entry"]
    assert pat["response"]["status"].startswith("200")
    assert pat["resource"]["id"] == first
    assert flag["resource"]["subject"]["reference"] == f"Patient/{first}"


async def test_batch_runs_entries_independently(client: httpx.AsyncClient) -> None:
    before = await _count(client, "Patient")
    body = _bundle(
        "batch",
        {"resource": patient(), "request": {"method": "POST", "url": "Patient"}},
        {"request": {"method": "GET", "url": "Patient/does-not-exist"}},
        {"resource": patient(), "request": {"method": "POST", "url": "Patient"}},
    )
    resp = await client.post("/", content=body)
    assert resp.status_code == 200
    entries = resp.json()["entry"]
    assert entries[0]["response"]["status"].startswith("201")
    assert entries[1]["response"]["status"] == "404"
    assert entries[1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert entries[2]["response"]["status"].startswith("201")
    assert await _count(client, "Patient") == before + 2


async def test_post_root_needs_batch_or_transaction(client: httpx.AsyncClient) -> None:
    resp = await client.post("/", content=_bundle("collection", {"resource": patient()}))
    assert resp.status_code == 400
    assert resp.json()["issue"][0]["expression"] == ["Bundle.type"]
