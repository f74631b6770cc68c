"""The RESTful interactions end to end through the app, on both engines."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest

from tests.builders_basic import patient

pytestmark = pytest.mark.usefixtures("engine_name")


async def _create(client: httpx.AsyncClient, resource: dict) -> httpx.Response:
    return await client.post(f"/{resource['resourceType']}", content=orjson.dumps(resource))


async def test_create_sets_id_meta_and_headers(client: httpx.AsyncClient) -> None:
    sent = patient(id="client-id-ignored")
    resp = await _create(client, sent)
    assert resp.status_code == 201
    body = resp.json()
    assert body["id"] != "client-id-ignored"
    assert body["meta"]["versionId"] == "1"
    assert body["meta"]["lastUpdated"].endswith("Z")
    assert resp.headers["ETag"] == 'W/"1"'
    assert resp.headers["Location"] == f"http://test/Patient/{body['id']}/_history/1"
    assert "Last-Modified" in resp.headers
    assert resp.headers["content-type"].startswith("application/fhir+json")
    read = await client.get(f"/Patient/{body['id']}")
    assert read.status_code == 200
    assert read.content == resp.content  # the stored bytes, unchanged


async def test_read_unknown_is_404_outcome(client: httpx.AsyncClient) -> None:
    resp = await client.get("/Patient/nope")
    assert resp.status_code == 404
    assert resp.json()["resourceType"] == "OperationOutcome"
    assert resp.json()["issue"][0]["code"] == "not-found"


async def test_unknown_type_is_404_outcome(client: httpx.AsyncClient) -> None:
    resp = await client.get("/Nonsense/1")
    assert resp.status_code == 404
    assert resp.json()["issue"][0]["code"] == "not-supported"


async def test_update_versions_and_vread(client: httpx.AsyncClient) -> None:
    created = (await _create(client, patient())).json()
    pid = created["id"]
    changed = {**created, "active": False}
    resp = await client.put(f"/Patient/{pid}", content=orjson.dumps(changed))
    assert resp.status_code == 200
    assert resp.json()["meta"]["versionId"] == "2"
    assert resp.headers["ETag"] == 'W/"2"'
    v1 = await client.get(f"/Patient/{pid}/_history/1")
    assert v1.status_code == 200 and v1.json()["active"] is True
    v2 = await client.get(f"/Patient/{pid}/_history/2")
    assert v2.json()["active"] is False
    assert (await client.get(f"/Patient/{pid}/_history/3")).status_code == 404


async def test_if_match_mismatch_is_412(client: httpx.AsyncClient) -> None:
    created = (await _create(client, patient())).json()
    pid = created["id"]
    stale = await client.put(f"/Patient/{pid}", content=orjson.dumps(created),
                             headers={"If-Match": 'W/"7"'})
    assert stale.status_code == 412
    assert stale.json()["resourceType"] == "OperationOutcome"
    ok = await client.put(f"/Patient/{pid}", content=orjson.dumps(created),
                          headers={"If-Match": 'W/"1"'})
    assert ok.status_code == 200


async def test_update_body_id_must_match_url(client: httpx.AsyncClient) -> None:
    resp = await client.put("/Patient/abc", content=orjson.dumps(patient(id="xyz")))
    assert resp.status_code == 400
    assert resp.json()["issue"][0]["expression"] == ["Patient.id"]


async def test_update_of_missing_id_creates(client: httpx.AsyncClient) -> None:
    resp = await client.put("/Patient/my-own-id", content=orjson.dumps(patient(id="my-own-id")))
    assert resp.status_code == 201
    assert resp.json()["meta"]["versionId"] == "1"
    assert resp.headers["Location"].endswith("/Patient/my-own-id/_history/1")


async def test_delete_then_410_and_history_keeps_it(client: httpx.AsyncClient) -> None:
    pid = (await _create(client, patient())).json()["id"]
    assert (await client.delete(f"/Patient/{pid}")).status_code == 204
    gone = await client.get(f"/Patient/{pid}")
    assert gone.status_code == 410
    assert gone.json()["issue"][0]["code"] == "deleted"
    assert (await client.delete(f"/Patient/{pid}")).status_code == 204  # harmless again
    hist = (await client.get(f"/Patient/{pid}/_history")).json()
    methods = [e["request"]["method"] for e in hist["entry"]]
    assert methods == ["DELETE", "POST"]
    assert "resource" not in hist["entry"][0]
    # a deleted resource may be brought back by update
    back = await client.put(f"/Patient/{pid}", content=orjson.dumps(patient(id=pid)))
    assert back.status_code == 201 and back.json()["meta"]["versionId"] == "3"


async def test_history_levels_since_count_and_paging(client: httpx.AsyncClient) -> None:
    published = (await client.get("/_history")).json()["total"]  # profiles/ stored at start
    ids = [(await _create(client, patient(gender=g))).json()["id"]
           for g in ("male", "female", "other")]
    await client.post("/Organization", content=orjson.dumps({"resourceType": "Organization",
                                                              "name": "Hospice"}))
    type_hist = (await client.get("/Patient/_history")).json()
    assert type_hist["type"] == "history" and type_hist["total"] == 3
    system = (await client.get("/_history")).json()
    assert system["total"] == published + 4
    page1 = (await client.get("/Patient/_history", params={"_count": "2"})).json()
    assert len(page1["entry"]) == 2
    nxt = next(link["url"] for link in page1["link"] if link["relation"] == "next")
    # a write between pages must not shift the next page
    await _create(client, patient())
    page2 = (await client.get(nxt.removeprefix("http://test"))).json()
    seen = [e["resource"]["id"] for e in page1["entry"] + page2["entry"]]
    assert sorted(seen) == sorted(ids)
    future = (await client.get("/_history", params={"_since": "2999-01-01T00:00:00Z"})).json()
    assert future["total"] == 0
    bad = await client.get("/_history", params={"_since": "yesterday"})
    assert bad.status_code == 400


async def test_conditional_create(client: httpx.AsyncClient) -> None:
    cond = {"If-None-Exist": "identifier=https://fhir.nhs.uk/Id/nhs-number|9912003888"}
    first = await client.post("/Patient", content=orjson.dumps(patient()), headers=cond)
    assert first.status_code == 201
    again = await client.post("/Patient", content=orjson.dumps(patient()), headers=cond)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    # two matches → 412
    await client.post("/Patient", content=orjson.dumps(patient()))
    many = await client.post("/Patient", content=orjson.dumps(patient()), headers=cond)
    assert many.status_code == 412


async def test_conditional_update(client: httpx.AsyncClient) -> None:
    query = "identifier=https://fhir.nhs.uk/Id/nhs-number|9658220142"
    body = patient(nhs="9658220142")
    created = await client.put(f"/Patient?{query}", content=orjson.dumps(body))
    assert created.status_code == 201
    pid = created.json()["id"]
    updated = await client.put(f"/Patient?{query}", content=orjson.dumps({**body,
                                                                         "active": False}))
    assert updated.status_code == 200 and updated.json()["id"] == pid
    assert updated.json()["meta"]["versionId"] == "2"


@pytest.mark.parametrize("prefer,expect_body", [
    ("return=minimal", None), ("return=representation", "Patient"),
    ("return=OperationOutcome", "OperationOutcome"),
])
async def test_prefer_return(client: httpx.AsyncClient, prefer: str,
                             expect_body: str | None) -> None:
    resp = await client.post("/Patient", content=orjson.dumps(patient()),
                             headers={"Prefer": prefer})
    assert resp.status_code == 201
    assert "Location" in resp.headers
    if expect_body is None:
        assert resp.content == b""
    else:
        assert resp.json()["resourceType"] == expect_body


async def test_concurrent_updates_never_both_win(client: httpx.AsyncClient) -> None:
    created = (await _create(client, patient())).json()
    pid = created["id"]

    async def put(flag: bool) -> int:
        r = await client.put(f"/Patient/{pid}", content=orjson.dumps({**created, "active": flag}),
                             headers={"If-Match": 'W/"1"'})
        return r.status_code

    statuses = await asyncio.gather(*(put(i % 2 == 0) for i in range(8)))
    assert sorted(statuses).count(200) == 1
    assert all(s in (200, 412) for s in statuses)

    async def blind(i: int) -> int:
        r = await client.put(f"/Patient/{pid}",
                             content=orjson.dumps({**created, "active": i % 2 == 0}))
        return int(r.json()["meta"]["versionId"])

    versions = await asyncio.gather(*(blind(i) for i in range(10)))
    assert sorted(versions) == list(range(3, 13))  # dense and unique
    hist = (await client.get(f"/Patient/{pid}/_history", params={"_count": "100"})).json()
    assert sorted(int(e["resource"]["meta"]["versionId"]) for e in hist["entry"]) \
        == list(range(1, 13))


async def test_if_none_match_on_read_gives_304(client: httpx.AsyncClient) -> None:
    pid = (await _create(client, patient())).json()["id"]
    resp = await client.get(f"/Patient/{pid}", headers={"If-None-Match": 'W/"1"'})
    assert resp.status_code == 304


async def test_lean_read_path_answers_like_the_full_stack(client: httpx.AsyncClient) -> None:
    created = await _create(client, patient())
    pid = created.json()["id"]
    lean = await client.get(f"/Patient/{pid}")  # no query: the lean path on SQLite
    full = await client.get(f"/Patient/{pid}", params={"_format": "json"})  # full stack
    assert lean.content == full.content == created.content
    assert lean.headers["ETag"] == full.headers["ETag"] == 'W/"1"'
    assert lean.headers["Last-Modified"] == full.headers["Last-Modified"]
    assert lean.headers["content-type"].startswith("application/fhir+json")
