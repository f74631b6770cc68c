"""Patient/[id]/$everything: the compartment and what it references, paged, on both engines."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from tests.builders import PATIENT_REF, make_cpr_flag, make_patient, make_preferred_place

pytestmark = pytest.mark.usefixtures("engine_name")

PID = PATIENT_REF["reference"].split("/")[1]


async def _put(client: httpx.AsyncClient, resource: dict[str, Any], rid: str) -> None:
    resource = {**resource, "id": rid}
    resp = await client.put(f"/{resource['resourceType']}/{rid}", content=orjson.dumps(resource))
    assert resp.status_code in (200, 201), resp.text


async def _setup(client: httpx.AsyncClient) -> None:
    await _put(client, make_patient(), PID)
    await _put(client, make_patient(identifier=None, generalPractitioner=None, meta=None,
                                    name=[{"family": "Other"}]), "someone-else")
    await _put(client, {"resourceType": "Practitioner", "name": [{"family": "Okafor"}]},
               "dr-okafor")
    for n in range(5):
        await _put(client, make_cpr_flag(), f"flag-{n}")
        await _put(client, make_preferred_place(), f"place-{n}")
    await _put(client, make_cpr_flag(subject={"reference": "Patient/someone-else"}), "other-flag")


async def _pages(client: httpx.AsyncClient, url: str) -> list[dict[str, Any]]:
    pages = []
    while url:
        resp = await client.get(url)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        pages.append(page)
        url = next((link["url"].removeprefix("http://test") for link in page.get("link", [])
                    if link["relation"] == "next"), "")
    return pages


async def test_everything_pages_through_the_compartment(client: httpx.AsyncClient) -> None:
    await _setup(client)
    pages = await _pages(client, f"/Patient/{PID}/$everything?_count=4")
    keys = [(e["resource"]["resourceType"], e["resource"]["id"]) for p in pages
            for e in p.get("entry", [])]
    assert keys[0] == ("Patient", PID)
    assert len(keys) == len(set(keys)) == 12  # patient, 10 resources, the referenced clinician
    assert ("Practitioner", "dr-okafor") in keys
    assert ("Flag", "other-flag") not in keys and ("Patient", "someone-else") not in keys
    assert [len(p.get("entry", [])) for p in pages] == [4, 4, 4]
    assert all(p["type"] == "searchset" and p["total"] == 12 for p in pages)


async def test_everything_type_and_since(client: httpx.AsyncClient) -> None:
    await _setup(client)
    only = (await client.get(f"/Patient/{PID}/$everything", params={"_type": "Observation"})).json()
    types = {e["resource"]["resourceType"] for e in only["entry"]}
    assert types == {"Patient", "Observation"}
    future = (await client.get(f"/Patient/{PID}/$everything",
                               params={"_since": "2999-01-01T00:00:00Z"})).json()
    assert [e["resource"]["resourceType"] for e in future["entry"]] == ["Patient"]


async def test_everything_errors(client: httpx.AsyncClient) -> None:
    await _setup(client)
    assert (await client.get("/Patient/nobody/$everything")).status_code == 404
    bad = await client.get(f"/Patient/{PID}/$everything", params={"_type": "Nonsense"})
    assert bad.status_code == 400
    unknown = await client.get(f"/Patient/{PID}/$everything", params={"colour": "blue"})
    assert unknown.status_code == 400
