"""Search over HTTP on both engines: bundles, errors, paging, sorting, includes, subsets."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest

from tests.builders import SCT, make_register_flag
from tests.builders_basic import NHS, patient

pytestmark = pytest.mark.usefixtures("engine_name")


async def _put(client: httpx.AsyncClient, resource: dict[str, Any]) -> None:
    url = f"/{resource['resourceType']}/{resource['id']}"
    resp = await client.put(url, content=orjson.dumps(resource))
    assert resp.status_code in (200, 201), resp.text


async def _seed(client: httpx.AsyncClient) -> None:
    await _put(client, {"resourceType": "Organization", "id": "gp1", "name": "Riverside"})
    births = ["1940-01-01", "1955-05-05", "1950-02-02", "1945-03-03", "1960-06-06"]
    for n, born in enumerate(births):
        await _put(client, patient(id=f"p{n}", nhs=f"900000000{n}", birthDate=born,
                                   name=[{"family": f"Fam{n % 2}", "given": [f"G{n}"]}],
                                   generalPractitioner=[{"reference": "Organization/gp1"}]))
    for n in range(3):
        await _put(client, make_register_flag(id=f"f{n}", subject={"reference": f"Patient/p{n}"},
                                              author={"reference": "Organization/gp1"}))


def _ids(bundle: dict[str, Any], mode: str = "match") -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == mode]


def _link(bundle: dict[str, Any], rel: str) -> str | None:
    return next((lk["url"] for lk in bundle.get("link", []) if lk["relation"] == rel), None)


async def test_searchset_bundle_shape(client: httpx.AsyncClient) -> None:
    await _seed(client)
    resp = await client.get("/Patient", params={"identifier": f"{NHS}|9000000002"})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/fhir+json")
    bundle = resp.json()
    assert bundle["type"] == "searchset"
    assert bundle["total"] == 1
    (entry,) = bundle["entry"]
    assert entry["fullUrl"] == "http://test/Patient/p2"
    assert entry["search"] == {"mode": "match"}
    self_link = urlsplit(_link(bundle, "self") or "")
    assert self_link.path == "/Patient"
    assert parse_qs(self_link.query) == {"identifier": [f"{NHS}|9000000002"]}


async def test_lookups_see_writes_at_once(client: httpx.AsyncClient) -> None:
    await _seed(client)
    for n in range(3):  # the lean lookup path must never serve a stale answer
        nhs = f"99999999{n}0"
        empty = (await client.get("/Patient", params={"identifier": f"{NHS}|{nhs}"})).json()
        assert _ids(empty) == []
        await _put(client, patient(id=f"new{n}", nhs=nhs))
        found = (await client.get("/Patient", params={"identifier": f"{NHS}|{nhs}"})).json()
        assert _ids(found) == [f"new{n}"] and found["total"] == 1
        await client.delete(f"/Patient/new{n}")
        gone = (await client.get("/Patient", params={"identifier": f"{NHS}|{nhs}"})).json()
        assert _ids(gone) == []


async def test_unknown_parameter_ignored_unless_strict(client: httpx.AsyncClient) -> None:
    await _seed(client)
    resp = await client.get("/Patient", params={"shoe-size": "9", "family": "fam1"},
                            headers={"Prefer": "handling=strict"})
    assert resp.status_code == 400
    assert resp.json()["resourceType"] == "OperationOutcome"
    assert "shoe-size" in resp.json()["issue"][0]["diagnostics"]
    for headers in ({}, {"Prefer": "handling=lenient"}):  # lenient is the default (R4 3.1.1.5)
        resp = await client.get("/Patient", params={"shoe-size": "9", "family": "fam1"},
                                headers=headers)
        assert resp.status_code == 200
        bundle = resp.json()
        assert sorted(_ids(bundle)) == ["p1", "p3"]
        assert _link(bundle, "self") == "http://test/Patient?family=fam1"
        (outcome,) = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
        assert outcome["issue"][0]["severity"] == "warning"
        assert "shoe-size" in outcome["issue"][0]["diagnostics"]
    count = (await client.get("/Patient", params={"shoe-size": "9", "_summary": "count"})).json()
    assert count["total"] == 5  # what fhirpy's count() sends


async def test_bad_values_are_400(client: httpx.AsyncClient) -> None:
    for params in ({"birthdate": "1940-13"}, {"_count": "x"}, {"family:near": "x"},
                   {"_sort": "shoe"}, {"_include": "Flag:status"}, {"_total": "some"}):
        resp = await client.get("/Patient" if "_include" not in params else "/Flag",
                                params=params)
        assert resp.status_code == 400, params
        assert resp.json()["resourceType"] == "OperationOutcome"


async def test_post_search_form(client: httpx.AsyncClient) -> None:
    await _seed(client)
    resp = await client.post("/Flag/_search", content="patient=Patient/p1&status=active",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 200
    assert _ids(resp.json()) == ["f1"]


async def test_paging_is_stable_under_writes(client: httpx.AsyncClient) -> None:
    await _seed(client)
    seen: list[str] = []
    url: str | None = "/Patient?_count=2&_sort=birthdate"
    pages = 0
    while url:
        bundle = (await client.get(url)).json()
        seen += _ids(bundle)
        if pages == 0:  # a write between pages: a new, earliest-born patient
            await _put(client, patient(id="late", nhs="9000000009", birthDate="1900-01-01"))
            prev_probe = _link(bundle, "previous")
            assert prev_probe is None
        url = _link(bundle, "next")
        pages += 1
    assert seen == ["p0", "p3", "p2", "p1", "p4"]  # oldest first; no repeat, no skip
    last = (await client.get("/Patient?_count=2&_sort=birthdate")).json()
    second = (await client.get(_link(last, "next") or "")).json()
    back = (await client.get(_link(second, "previous") or "")).json()
    assert _ids(back) == _ids(last)


async def test_sorted_pages_follow_the_order_at_page_one(client: httpx.AsyncClient) -> None:
    await _seed(client)
    first = (await client.get("/Patient?_count=2&_sort=birthdate")).json()
    assert _ids(first) == ["p0", "p3"]
    # Sort keys change under the client: p2 would jump back over the page boundary
    # (skipped by plain keyset paging) and p0 forward (seen twice).
    await _put(client, patient(id="p2", nhs="9000000002", birthDate="1930-01-01"))
    await _put(client, patient(id="p0", nhs="9000000000", birthDate="2001-01-01"))
    await client.delete("/Patient/p1")
    seen, url = _ids(first), _link(first, "next")
    while url:
        page = (await client.get(url)).json()
        seen += _ids(page)
        url = _link(page, "next")
    assert seen == ["p0", "p3", "p2", "p4"]  # each once, in page-one order; p1 was deleted
    second = (await client.get(_link(first, "next") or "")).json()
    p2 = second["entry"][0]["resource"]
    assert p2["id"] == "p2" and p2["birthDate"] == "1930-01-01"  # the current version
    back = (await client.get(_link(second, "previous") or "")).json()
    assert _ids(back) == ["p0", "p3"]


async def test_expired_or_foreign_cursor(client: httpx.AsyncClient) -> None:
    await _seed(client)
    import base64

    gone = base64.urlsafe_b64encode(b'{"s":"nope","o":2}').decode().rstrip("=")
    assert (await client.get(f"/Patient?_sort=birthdate&_cursor={gone}")).status_code == 410
    assert (await client.get("/Patient?_cursor=%%%")).status_code == 400
    keyset = base64.urlsafe_b64encode(b'{"d":"n","k":[1,2,3]}').decode().rstrip("=")
    assert (await client.get(f"/Patient?_cursor={keyset}")).status_code == 400


async def test_sort_several_keys(client: httpx.AsyncClient) -> None:
    await _seed(client)
    bundle = (await client.get("/Patient?_sort=family,-birthdate")).json()
    assert _ids(bundle) == ["p4", "p2", "p0", "p1", "p3"]
    bundle = (await client.get("/Patient?_sort=-_id&_count=3")).json()
    assert _ids(bundle) == ["p4", "p3", "p2"]


async def test_include_revinclude_iterate(client: httpx.AsyncClient) -> None:
    await _seed(client)
    bundle = (await client.get("/Flag?_id=f1&_include=Flag:patient")).json()
    assert _ids(bundle) == ["f1"]
    assert _ids(bundle, "include") == ["p1"]
    bundle = (await client.get(
        "/Flag?_id=f1&_include=Flag:patient&_include:iterate=Patient:general-practitioner"
    )).json()
    assert sorted(_ids(bundle, "include")) == ["gp1", "p1"]
    bundle = (await client.get("/Patient?_id=p0,p4&_revinclude=Flag:patient")).json()
    assert sorted(_ids(bundle)) == ["p0", "p4"]
    assert _ids(bundle, "include") == ["f0"]


async def test_total_summary_elements(client: httpx.AsyncClient) -> None:
    await _seed(client)
    bundle = (await client.get("/Patient?_summary=count")).json()
    assert bundle["total"] == 5 and "entry" not in bundle
    bundle = (await client.get("/Patient?_count=1&_total=accurate")).json()
    assert bundle["total"] == 5 and len(bundle["entry"]) == 1
    bundle = (await client.get("/Patient?_count=1&_total=none")).json()
    assert "total" not in bundle
    bundle = (await client.get("/Patient?_id=p1&_elements=identifier")).json()
    resource = bundle["entry"][0]["resource"]
    assert set(resource) == {"resourceType", "id", "meta", "identifier"}
    assert any(t["code"] == "SUBSETTED" for t in resource["meta"]["tag"])
    bundle = (await client.get("/Patient?_id=p1&_summary=true")).json()
    resource = bundle["entry"][0]["resource"]
    assert "name" in resource and "birthDate" in resource
    assert "generalPractitioner" not in resource  # not a summary element in R4
    assert any(t["code"] == "SUBSETTED" for t in resource["meta"]["tag"])


async def test_system_search(client: httpx.AsyncClient) -> None:
    await _seed(client)
    bundle = (await client.get("/?_type=Flag,Organization&_count=3")).json()
    assert [(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle["entry"]] == [
        ("Flag", "f0"), ("Flag", "f1"), ("Flag", "f2")]
    nxt = (await client.get(_link(bundle, "next") or "")).json()
    assert _ids(nxt) == ["gp1"]
    assert (await client.get("/?_id=p1")).status_code == 400
    # a parameter of one type only would return every resource of the others: refused
    partial = await client.get("/?_type=Flag,Organization&name=river")
    assert partial.status_code == 400 and "Flag" in partial.json()["issue"][0]["diagnostics"]
    unknown = (await client.get("/?_type=Flag,Organization&shoe-size=9&_count=1")).json()
    assert unknown["link"][0]["url"] == "http://test?_type=Flag%2COrganization&_count=1"
    assert [e["search"]["mode"] for e in unknown["entry"]] == ["match", "outcome"]


async def test_conditional_create_uses_search(client: httpx.AsyncClient) -> None:
    await _seed(client)
    body = orjson.dumps(make_register_flag(subject={"reference": "Patient/p1"}))
    resp = await client.post("/Flag", content=body, headers={
        "If-None-Exist": f"patient=Patient/p1&code={SCT}|526631000000108"})
    assert resp.status_code == 200  # f1 already matches: nothing created
    assert resp.headers.get("Location", "").find("/Flag/f1") >= 0 or resp.json()["id"] == "f1"


async def test_chain_and_has_over_http(client: httpx.AsyncClient) -> None:
    await _seed(client)
    bundle = (await client.get("/Flag", params={
        "subject:Patient.identifier": f"{NHS}|9000000002"})).json()
    assert _ids(bundle) == ["f2"]
    bundle = (await client.get("/Patient", params={
        "_has:Flag:patient:code": "526631000000108", "_sort": "_id"})).json()
    assert _ids(bundle) == ["p0", "p1", "p2"]
    query = parse_qs(urlsplit(_link(bundle, "self") or "").query)
    assert query["_has:Flag:patient:code"] == ["526631000000108"]


async def test_search_inside_a_batch(client: httpx.AsyncClient) -> None:
    await _seed(client)
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": f"Patient?identifier={NHS}|9000000003"}},
        {"request": {"method": "GET", "url": "Flag?patient=Patient/p1&_include=Flag:patient"}},
    ]}
    resp = await client.post("/", content=orjson.dumps(bundle))
    assert resp.status_code == 200, resp.text
    first, second = (e["resource"] for e in resp.json()["entry"])
    assert first["type"] == "searchset" and _ids(first) == ["p3"]
    assert _ids(second) == ["f1"] and _ids(second, "include") == ["p1"]


async def test_summary_text_and_data(client: httpx.AsyncClient) -> None:
    await _put(client, patient(id="t1", text={"status": "generated",
                                              "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}))
    data = (await client.get("/Patient?_id=t1&_summary=data")).json()["entry"][0]["resource"]
    assert "text" not in data and "name" in data
    text = (await client.get("/Patient?_id=t1&_summary=text")).json()["entry"][0]["resource"]
    assert "text" in text and "name" not in text
