"""The shipped examples/ are accepted, sent exactly as examples/README.md tells a user to."""

from __future__ import annotations

import asyncio
import json
import shlex
from pathlib import Path
from typing import Any

import httpx
import pytest

from eolc_fhir.config import Settings
from eolc_fhir.subscriptions.receiver import Receiver
from tests.api.test_subscriptions import wait_status
from tests.unit.subscriptions.support import notifications

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SERVER = "http://127.0.0.1:8080"
NHS_NUMBER = "9990000018"


def documented_requests() -> list[tuple[str, str, Path]]:
    """(method, path, file) of each `curl ... --data-binary @examples/...` line, in order."""
    found = []
    for line in (EXAMPLES / "README.md").read_text().splitlines():
        if not line.startswith("curl ") or "--data-binary" not in line:
            continue
        words = shlex.split(line)
        method = words[words.index("-X") + 1]
        body = words[words.index("--data-binary") + 1].removeprefix("@")
        url = next(w for w in words if w.startswith(SERVER))
        found.append((method, url.removeprefix(SERVER), ROOT / body))
    return found


REQUESTS = documented_requests()


@pytest.fixture
def settings(migrated_url: str) -> Settings:
    # No dispatcher: the example Subscription's endpoint (port 9090) is not ours to call.
    return Settings(database_url=migrated_url, insecure_dev=True, base_url="http://test",
                    run_dispatcher=False)


def test_every_example_file_is_documented_and_sent() -> None:
    sent = [path.name for _, _, path in REQUESTS]
    assert sent == ["region-bundle.json", "subscription.json", "register-entry.json",
                    "cpr-decision.json", "advance-care-plan.json"]
    assert sorted(sent) == sorted(p.name for p in EXAMPLES.glob("*.json"))


async def test_examples_are_created_in_the_documented_order(client: httpx.AsyncClient) -> None:
    for method, path, file in REQUESTS:
        response = await client.request(method, path, content=file.read_bytes())
        if path == "/":
            assert response.status_code == 200, response.text
            statuses = [e["response"]["status"] for e in response.json()["entry"]]
            assert statuses == ["201 Created"] * 3, statuses
        else:
            assert response.status_code == 201, (file.name, response.text)
    again = await client.post("/", content=(EXAMPLES / "region-bundle.json").read_bytes())
    assert [e["response"]["status"] for e in again.json()["entry"]] == ["200 OK"] * 3

    document = await _wishes(client)
    titles = {s["title"] for s in document["entry"][0]["resource"]["section"]}
    assert {"CPR decision", "Register status and prognosis", "What matters to me",
            "Warnings"} <= titles
    warnings = [e["resource"]["code"]["coding"][0]["code"] for e in document["entry"]
                if e["resource"]["resourceType"] == "DetectedIssue"]
    assert "no-first-choice-place-of-death" in warnings


async def test_the_documented_retry_guard_finds_the_register_entry(
        client: httpx.AsyncClient) -> None:
    for method, path, file in REQUESTS[:3]:
        assert (await client.request(method, path, content=file.read_bytes())).is_success
    guard = ("patient=Patient/eolc-example-patient"
             "&code=http://snomed.info/sct|526631000000108")
    retry = await client.post("/Flag", content=(EXAMPLES / "register-entry.json").read_bytes(),
                              headers={"If-None-Exist": guard})
    assert retry.status_code == 200, retry.text
    found = await client.get("/Flag", params={"patient": "Patient/eolc-example-patient"})
    assert found.json()["total"] == 1


async def _wishes(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/Patient/$wishes", params={
        "identifier": f"https://fhir.nhs.uk/Id/nhs-number|{NHS_NUMBER}"})
    assert response.status_code == 200, response.text
    return dict(response.json())


class TestTheSubscriptionFollowsThePerson:
    """The example Subscription, pointed at a test receiver, hears each later example."""

    @pytest.fixture
    def settings(self, migrated_url: str) -> Settings:
        return Settings(database_url=migrated_url, insecure_dev=True, base_url="http://test",
                        delivery_retry_base_seconds=0.05, delivery_retry_max_seconds=0.2,
                        dispatcher_poll_seconds=0.2)

    @pytest.mark.parametrize("patient_filter", [
        None,  # as shipped: Patient?patient=eolc-example-patient
        "Patient?patient=Patient/eolc-example-patient",  # the form the topic describes
    ])
    async def test_notified(self, client: httpx.AsyncClient, receiver: Receiver,
                            patient_filter: str | None) -> None:
        (_, _, bundle), (_, _, sub_file), *writes = REQUESTS
        assert (await client.post("/", content=bundle.read_bytes())).status_code == 200
        resource = json.loads(sub_file.read_text())
        resource["channel"]["endpoint"] = receiver.url("/notifications")
        if patient_filter is not None:
            resource["_criteria"]["extension"][0]["valueString"] = patient_filter
        receiver.secret = _secret(resource)
        created = await client.post("/Subscription", json=resource)
        assert created.status_code == 201, created.text
        await wait_status(client, created.json()["id"], "active")
        for method, path, file in writes:
            response = await client.request(method, path, content=file.read_bytes())
            assert response.status_code == 201, response.text
        await receiver.wait_for(lambda r: sum(len(b["entry"]) - 1 for b in notifications(r))
                                >= len(writes), timeout=3.0 if patient_filter else 10.0)
        await asyncio.sleep(0.3)  # nothing more may arrive
        focus = [e["fullUrl"].split("/")[-2] for b in notifications(receiver.received)
                 for e in b["entry"][1:]]
        assert focus == ["Flag", "Flag", "CarePlan"]
        assert all(item.signature_ok for item in receiver.received)


def _secret(subscription: dict[str, Any]) -> str:
    return str(next(e["valueString"] for e in subscription["channel"]["extension"]
                    if e["url"].endswith("eolc-subscription-secret")))
