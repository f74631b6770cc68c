"""A classic R4 rest-hook through a real server: each matching change PUT, in order."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest

from eolc_fhir.subscriptions.receiver import Receiver
from tests.builders import make_lab_observation
from tests.e2e.test_kill9_subscriptions import FHIR, start

pytestmark = [pytest.mark.e2e]


@pytest.mark.engines("postgresql")
async def test_classic_rest_hook_puts_each_matching_version_in_order(
        migrated_url: str, tmp_path: Path) -> None:
    receiver = await Receiver(secret="k3y").start()
    server = await start(migrated_url, tmp_path)
    try:
        async with httpx.AsyncClient(base_url=server.url, headers=FHIR, timeout=10) as http:
            sub = (await http.post("/Subscription", json={
                "resourceType": "Subscription", "status": "requested", "reason": "e2e",
                "criteria": "Observation?code=http://loinc.org|1975-2",
                "channel": {"type": "rest-hook", "endpoint": receiver.url("/fhir"),
                            "payload": "application/fhir+json",
                            "header": ["Authorization: Bearer e2e"],
                            "extension": [{"url": "https://eolc.example.org/fhir/"
                                           "StructureDefinition/eolc-subscription-secret",
                                           "valueString": "k3y"}]}})).json()
            await receiver.wait_for(lambda r: len(r) >= 1)  # the first contact: a ping
            obs = (await http.post("/Observation", json=make_lab_observation())).json()
            for value in (5.0, 6.0):
                obs["valueQuantity"]["value"] = value
                obs = (await http.put(f"/Observation/{obs['id']}", json=obs)).json()
            await http.post("/Observation", json=make_lab_observation("2345-7"))
            await receiver.wait_for(lambda r: len(r) >= 4)
            read = (await http.get(f"/Subscription/{sub['id']}")).json()
        puts = [r for r in receiver.received if r.method == "PUT"]
        assert [orjson.loads(r.body)["meta"]["versionId"] for r in puts] == ["1", "2", "3"]
        assert {r.path for r in puts} == {f"/fhir/Observation/{obs['id']}"}
        assert all(r.signature_ok and r.headers["authorization"] == "Bearer e2e"
                   for r in receiver.received)
        assert read["status"] == "active"
        assert "k3y" not in orjson.dumps(read).decode()
    finally:
        server.stop()
        await receiver.stop()
