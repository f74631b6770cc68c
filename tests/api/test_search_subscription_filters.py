"""Subscription filters with chains, _has and _list: the matcher asks the database for the
far side inside the write's transaction (both engines)."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from eolc_fhir.services.subscriptions.matching import Matcher
from eolc_fhir.subscriptions.spec import Filter
from eolc_fhir.subscriptions.topics import Topic
from tests.builders import make_register_flag
from tests.builders_basic import NHS, patient
from tests.unit.subscriptions.support import subscription

LOINC = "http://loinc.org"
TOPIC = Topic(url="urn:test:topic", name="t", title="", triggers=(), filters=())


async def _put(client: httpx.AsyncClient, resource: dict[str, Any]) -> None:
    url = f"/{resource['resourceType']}/{resource['id']}"
    resp = await client.put(url, content=orjson.dumps(resource))
    assert resp.status_code in (200, 201), resp.text


async def test_chained_has_and_list_filters(client: httpx.AsyncClient) -> None:
    await _put(client, {"resourceType": "Organization", "id": "gp1", "name": "Riverside"})
    await _put(client, patient(id="p1", nhs="9912003888",
                               generalPractitioner=[{"reference": "Organization/gp1"}]))
    await _put(client, patient(id="p2", nhs="9658220142"))
    await _put(client, {"resourceType": "Observation", "id": "o1", "status": "final",
                        "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                        "subject": {"reference": "Patient/p1"}})
    await _put(client, {"resourceType": "List", "id": "l1", "status": "current",
                        "mode": "working", "entry": [{"item": {"reference": "Patient/p2"}}]})
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    matcher = Matcher(ctx)
    flag1 = make_register_flag(id="new1", subject={"reference": "Patient/p1"})
    flag2 = make_register_flag(id="new2", subject={"reference": "Patient/p2"})
    p1, p2 = patient(id="p1"), patient(id="p2")

    async def hits(rtype: str, params: dict[str, str], *versions: dict[str, Any]) -> list[str]:
        found = []
        for version in versions:
            matcher.check(rtype, list(params.items()), TOPIC.url)  # accepted at subscribe time
            async with ctx.db.unit_of_work(write=False) as uow:
                f = Filter(rtype, tuple(params.items()))
                if await matcher.filters_match(uow, TOPIC, [f], rtype, [version], {}):
                    found.append(version["id"])
        return found

    assert await hits("Flag", {"patient.general-practitioner": "Organization/gp1"},
                      flag1, flag2) == ["new1"]
    assert await hits("Flag", {"patient.identifier": f"{NHS}|9658220142", "status": "active"},
                      flag1, flag2) == ["new2"]
    assert await hits("Flag", {"patient.identifier": f"{NHS}|9658220142",
                               "status": "inactive"}, flag1, flag2) == []
    assert await hits("Patient", {"_has:Observation:patient:code": f"{LOINC}|8480-6"},
                      p1, p2) == ["p1"]
    assert await hits("Patient", {"_list": "l1"}, p1, p2) == ["p2"]
    assert await hits("Patient", {"_list": "l1", "_filter": "gender eq male or gender eq female"},
                      p1, p2) == ["p2"]
    assert await hits("Patient", {"_list": "l1", "_filter": "gender eq male"}, p1, p2) == []


async def test_a_subscriber_writes_a_chain_on_an_allowed_filter(
        client: httpx.AsyncClient) -> None:
    chained = subscription("https://hooks.example.org/x",
                           filters=(f"Flag?patient.identifier={NHS}|9912003888",))
    created = await client.post("/Subscription", content=orjson.dumps(chained))
    assert created.status_code == 201, created.text
    wrong = subscription("https://hooks.example.org/x", filters=("patient.nonsense=x",))
    refused = await client.post("/Subscription", content=orjson.dumps(wrong))
    assert refused.status_code == 422, refused.text
    assert "nonsense" in refused.text
