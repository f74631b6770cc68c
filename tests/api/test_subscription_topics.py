"""Each topic fires on its resources only, and each filter selects what it names."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from eolc_fhir.config import Settings
from eolc_fhir.subscriptions.receiver import Receiver
from tests.api.test_subscriptions import wait_status
from tests.builders import (
    VALID_NHS_NUMBERS,
    make_care_plan,
    make_cpr_flag,
    make_episode,
    make_patient,
    make_place_of_death,
    make_preferred_place,
    make_register_flag,
)
from tests.unit.subscriptions.support import BACKPORT, notifications, params_of, subscription

ME = {"reference": "Patient/p-match"}
OTHER = {"reference": "Patient/p-other"}


@pytest.fixture
def settings(migrated_url: str) -> Settings:
    return Settings(database_url=migrated_url, insecure_dev=True, base_url="http://test",
                    delivery_retry_base_seconds=0.05, delivery_retry_max_seconds=0.2,
                    dispatcher_poll_seconds=0.2, delivery_lease_seconds=3)


async def focus_after(client: httpx.AsyncClient, receiver: Receiver, topic: str,
                      filters: tuple[str, ...], writes: list[tuple[str, str, dict[str, Any]]],
                      expected: int) -> list[tuple[str, str]]:
    """Subscribe, perform the writes, return (method, fullUrl) of what was notified.

    A create is notified as ``POST [type]`` (the IG's form), also when done by PUT.
    """
    created = await client.post("/Subscription", json=subscription(
        receiver.url(), topic, filters=filters, content="id-only"))
    assert created.status_code == 201, created.text
    await wait_status(client, created.json()["id"], "active")
    for method, url, body in writes:
        response = await client.request(method, url, json=body)
        assert response.status_code in (200, 201), response.text
    await receiver.wait_for(lambda r: sum(len(b["entry"]) - 1
                                          for b in notifications(r)) >= expected)
    await asyncio.sleep(0.3)  # nothing more may arrive
    return [(e["request"]["method"], e["fullUrl"])
            for b in notifications(receiver.received) for e in b["entry"][1:]]


async def test_register_entry_by_patient_status_and_code(client: httpx.AsyncClient,
                                                         receiver: Receiver) -> None:
    writes = [
        ("PUT", "/Flag/f1", make_register_flag(id="f1", subject=OTHER)),
        ("PUT", "/Flag/f2", make_register_flag(id="f2", subject=ME, status="inactive")),
        ("PUT", "/Flag/f3", make_cpr_flag(id="f3", subject=ME)),
        ("PUT", "/Flag/f4", make_register_flag(id="f4", subject=ME)),
    ]
    got = await focus_after(client, receiver, "register-entry", (
        "Flag?patient=Patient/p-match&status=active",
        "Flag?code=http://snomed.info/sct|526631000000108"), writes, 1)
    assert got == [("POST", "http://test/Flag/f4")]


async def test_register_entry_by_author(client: httpx.AsyncClient, receiver: Receiver) -> None:
    writes = [
        ("PUT", "/Flag/a1", make_register_flag(id="a1", author={"reference": "Organization/x"})),
        ("PUT", "/Flag/a2", make_register_flag(id="a2")),
    ]
    got = await focus_after(client, receiver, "register-entry",
                            ("Flag?author=Organization/gp-practice-1",), writes, 1)
    assert got == [("POST", "http://test/Flag/a2")]


async def test_cpr_decision_fires_on_cpr_flags_only(client: httpx.AsyncClient,
                                                    receiver: Receiver) -> None:
    writes = [
        ("PUT", "/Flag/r1", make_register_flag(id="r1", subject=ME)),
        ("PUT", "/Flag/c1", make_cpr_flag(id="c1", subject=OTHER)),
        ("PUT", "/Flag/c2", make_cpr_flag(id="c2", subject=ME)),
    ]
    got = await focus_after(client, receiver, "cpr-decision", ("Flag.patient=Patient/p-match",),
                            writes, 1)
    assert got == [("POST", "http://test/Flag/c2")]


async def test_advance_care_plan_by_author(client: httpx.AsyncClient,
                                           receiver: Receiver) -> None:
    writes = [
        ("PUT", "/CarePlan/p1", make_care_plan(id="p1",
                                               author={"reference": "Practitioner/other"})),
        ("PUT", "/CarePlan/p2", make_care_plan(id="p2")),
    ]
    got = await focus_after(client, receiver, "advance-care-plan",
                            ("CarePlan?author=Practitioner/dr-okafor&patient=Patient/eolc-patient-1",),
                            writes, 1)
    assert got == [("POST", "http://test/CarePlan/p2")]


async def test_care_episode_status_change_by_managing_organization(
        client: httpx.AsyncClient, receiver: Receiver) -> None:
    finished = make_episode(id="e1", status="finished",
                            period={"start": "2026-02-03", "end": "2026-09-30"})
    writes = [
        ("PUT", "/EpisodeOfCare/e1", make_episode(id="e1")),
        ("PUT", "/EpisodeOfCare/e2", make_episode(
            id="e2", status="finished", period={"start": "2026-02-03", "end": "2026-09-30"},
            managingOrganization={"reference": "Organization/elsewhere"})),
        ("PUT", "/EpisodeOfCare/e1", finished),
    ]
    got = await focus_after(client, receiver, "care-episode", (
        "EpisodeOfCare?managing-organization=Organization/coordination-centre&status=finished",),
        writes, 1)
    assert got == [("PUT", "http://test/EpisodeOfCare/e1")]


async def test_patient_wishes_by_general_practitioner(client: httpx.AsyncClient,
                                                      receiver: Receiver) -> None:
    other_gp = make_patient(id="p-other", identifier=[{
        "extension": make_patient()["identifier"][0].get("extension", []),
        "system": "https://fhir.nhs.uk/Id/nhs-number", "value": VALID_NHS_NUMBERS[1]}],
        generalPractitioner=[{"reference": "Organization/elsewhere"}])
    for patient in (make_patient(id="p-match"), other_gp):
        response = await client.put(f"/Patient/{patient['id']}", json=patient)
        assert response.status_code == 201, response.text
    writes = [
        ("PUT", "/Flag/w1", make_register_flag(id="w1", subject=OTHER)),
        ("PUT", "/Observation/w2", make_preferred_place(id="w2", subject=OTHER)),
        ("PUT", "/Observation/w3", make_preferred_place(id="w3", subject=ME)),
        ("PUT", "/Flag/w4", make_cpr_flag(id="w4", subject=ME)),
    ]
    got = await focus_after(client, receiver, "patient-wishes",
                            ("Patient?general-practitioner=Organization/gp-practice-1",),
                            writes, 2)
    assert got == [("POST", "http://test/Observation/w3"), ("POST", "http://test/Flag/w4")]


def _person(pid: str, number: int, **overrides: Any) -> dict[str, Any]:
    identifier = make_patient()["identifier"][0]
    return make_patient(id=pid, identifier=[{**identifier, "value": VALID_NHS_NUMBERS[number]}],
                        **overrides)


async def test_death_recorded_by_place_of_death_and_a_patient_now_deceased(
        client: httpx.AsyncClient, receiver: Receiver) -> None:
    elsewhere = [{"reference": "Organization/elsewhere"}]
    for patient in (_person("p-match", 0), _person("p-other", 1, generalPractitioner=elsewhere)):
        assert (await client.put(f"/Patient/{patient['id']}", json=patient)).status_code == 201
    hospice = {"coding": [{"system": "https://eolc.example.org/fhir/CodeSystem/eolc-place-type",
                           "code": "30"}]}
    died = "2026-11-02T04:10:00Z"
    writes = [
        ("PUT", "/Observation/d1", make_preferred_place(id="d1", subject=ME)),  # a wish: no
        ("PUT", "/Observation/d2", make_place_of_death(id="d2", subject=ME)),
        ("PUT", "/Observation/d2", make_place_of_death(id="d2", subject=ME,
                                                       valueCodeableConcept=hospice)),
        ("PUT", "/Patient/p-match", _person("p-match", 0, active=True)),  # alive: no
        ("PUT", "/Patient/p-match", _person("p-match", 0, deceasedDateTime=died)),
        ("PUT", "/Patient/p-match", _person("p-match", 0, deceasedDateTime=died,
                                            gender="female")),  # was already dead: no
        ("PUT", "/Observation/d3", make_place_of_death(id="d3", subject=OTHER)),  # other GP
        ("PUT", "/Patient/p-other", _person("p-other", 1, generalPractitioner=elsewhere,
                                            deceasedBoolean=True)),
    ]
    got = await focus_after(client, receiver, "death-recorded",
                            ("Patient?general-practitioner=Organization/gp-practice-1",),
                            writes, 3)
    assert got == [("POST", "http://test/Observation/d2"), ("PUT", "http://test/Observation/d2"),
                   ("PUT", "http://test/Patient/p-match")]


async def test_death_recorded_only_when_a_patient_changes_to_deceased(
        client: httpx.AsyncClient, receiver: Receiver) -> None:
    writes = [
        ("PUT", "/Patient/p-a", _person("p-a", 0)),  # created alive: no
        ("PUT", "/Patient/p-a", _person("p-a", 0, deceasedBoolean=False)),  # still alive: no
        ("PUT", "/Patient/p-a", _person("p-a", 0, deceasedBoolean=True)),
        ("PUT", "/Patient/p-a", _person("p-a", 0, deceasedDateTime="2026-11-01")),  # no
        ("PUT", "/Patient/p-b", _person("p-b", 1, deceasedDateTime="2026-10-30T22:00:00Z")),
    ]
    got = await focus_after(client, receiver, "death-recorded", (), writes, 2)
    assert got == [("PUT", "http://test/Patient/p-a"), ("POST", "http://test/Patient/p-b")]


@pytest.mark.parametrize(("change", "status", "words"), [
    ({"criteria": "https://eolc.example.org/fhir/SubscriptionTopic/nope"}, 422, "unknown"),
    ({"_criteria": {"extension": [{"url": BACKPORT + "backport-filter-criteria",
                                   "valueString": "Flag?date=2026"}]}}, 422, "does not allow"),
    ({"_criteria": {"extension": [{"url": BACKPORT + "backport-filter-criteria",
                                   "valueString": "garbage"}]}}, 400, "not of the form"),
    ({"status": "active"}, 400, "requested"),
    ({"channel": {"type": "email", "endpoint": "mailto:a@b.c"}}, 422, "rest-hook"),
    ({"channel": {"type": "rest-hook", "endpoint": "http://127.0.0.1:9/x",
                  "payload": "application/xml"}}, 422, "payload"),
    ({"channel": {"type": "rest-hook", "endpoint": "http://example.org/hook"}}, 422, "https"),
    ({"channel": {"type": "rest-hook", "endpoint": "http://127.0.0.1:9/x", "_payload": {
        "extension": [{"url": BACKPORT + "backport-payload-content", "valueCode": "all"}]}}},
     422, "content"),
])
async def test_bad_subscriptions_are_refused(client: httpx.AsyncClient, change: dict[str, Any],
                                             status: int, words: str) -> None:
    response = await client.post("/Subscription", json={
        **subscription("http://127.0.0.1:9/hook"), **change})
    assert response.status_code == status, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert words in str(outcome["issue"][0]["diagnostics"])
    listing = (await client.get("/Subscription/$status")).json()
    assert listing["total"] == 0


async def test_status_parameters_name_the_topic(client: httpx.AsyncClient,
                                                receiver: Receiver) -> None:
    created = await client.post("/Subscription", json=subscription(receiver.url(),
                                                                   "care-episode"))
    await receiver.wait_for(lambda r: len(r) >= 1)
    params = params_of(receiver.received[0].bundle)
    assert params["topic"]["valueCanonical"].endswith("/SubscriptionTopic/care-episode")
    assert params["status"]["valueCode"] == "requested"
    assert params["subscription"]["valueReference"]["reference"] == (
        f"http://test/Subscription/{created.json()['id']}")
