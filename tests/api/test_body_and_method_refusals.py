"""A form body (`curl --data`) is refused with 415 and never stored; PATCH takes only a
JSON Patch or a FHIRPath Patch (415 otherwise), and is 405 with Allow where it has no route."""

from __future__ import annotations

import httpx
import orjson
import pytest

from tests.api.conftest import FHIR
from tests.builders_basic import patient

FORM = "application/x-www-form-urlencoded"


async def _stored(client: httpx.AsyncClient) -> int:
    return int((await client.get("/Patient/_history")).json()["total"])


@pytest.mark.engines("sqlite")
async def test_a_form_body_is_refused_not_stored(client: httpx.AsyncClient) -> None:
    body = orjson.dumps(patient())  # what `curl --data @patient.json` sends
    for method, url in (("POST", "/Patient"), ("PUT", "/Patient/p1"), ("POST", "/")):
        resp = await client.request(method, url, content=body, headers={"Content-Type": FORM})
        assert resp.status_code == 415, (method, url, resp.text)
        issue = resp.json()["issue"][0]
        assert issue["code"] == "not-supported"
        assert "application/fhir+json" in issue["diagnostics"]
    assert await _stored(client) == 0
    for ctype in (FHIR, "application/json", "application/fhir+json; charset=utf-8"):
        assert (await client.post("/Patient", content=body,
                                  headers={"Content-Type": ctype})).status_code == 201
    # where a form IS the protocol it is still taken
    search = await client.post("/Patient/_search", content=b"_count=1",
                               headers={"Content-Type": FORM})
    assert search.status_code == 200 and search.json()["resourceType"] == "Bundle"
    token = await client.post("/auth/token", content=b"grant_type=client_credentials",
                              headers={"Content-Type": FORM})
    assert token.status_code != 415


@pytest.mark.engines("sqlite")
async def test_patch_takes_only_patch_media_types(client: httpx.AsyncClient) -> None:
    created = await client.post("/Patient", json=patient())
    pid = created.json()["id"]
    for ctype in (FORM, "text/plain", FHIR):  # FHIR: an array (XML: a FHIRPath Patch)
        for url in (f"/Patient/{pid}", "/Patient?gender=female"):
            resp = await client.request("PATCH", url, content=b'[{"op": "remove"}]',
                                        headers={"Content-Type": ctype})
            assert resp.status_code == 415, (ctype, url, resp.text)
            issue = resp.json()["issue"][0]
            assert issue["code"] == "not-supported"
            assert "application/json-patch+json" in issue["diagnostics"]
    # where no PATCH route is, 405 with the methods that are allowed
    resp = await client.request("PATCH", f"/Patient/{pid}/_history", content=b"[]")
    assert resp.status_code == 405
    allow = {m.strip() for m in resp.headers["allow"].split(",")}
    assert "GET" in allow and "PATCH" not in allow
    assert (await client.get(f"/Patient/{pid}")).json() == created.json()
