"""Patient/$wishes for a person who has died, on both engines: still served, says so first."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from eolc_fhir.fhir.parse import check_resource
from tests.api.test_wishes import (
    ORDER,
    PID,
    WARNING_SYSTEM,
    _composition,
    _put,
    _record,
    _section,
    _wishes,
)
from tests.builders import PLACE_TYPE, make_cpr_flag, make_patient, make_place_of_death

pytestmark = pytest.mark.usefixtures("engine_name")

DIED = "2026-11-02T04:10:00Z"
HOSPICE = {"coding": [{"system": PLACE_TYPE, "code": "30", "display": "Hospice"}]}


def _issues(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """The DetectedIssues in the order of the warnings section."""
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    return [by_url[e["reference"]] for e in _section(bundle, "warnings").get("entry", [])]


def _codes(bundle: dict[str, Any]) -> list[str]:
    return [c["code"] for i in _issues(bundle) for c in i["code"]["coding"]
            if c["system"] == WARNING_SYSTEM]


async def _ok(client: httpx.AsyncClient, **headers: str) -> httpx.Response:
    resp = await _wishes(client, **headers)
    assert resp.status_code == 200, resp.text
    return resp


async def test_a_patient_deceased_date_heads_the_document(client: httpx.AsyncClient) -> None:
    await _record(client, place_of_death=False)  # lacks a first choice: moot after death
    await _put(client, make_cpr_flag(period={"start": "2026-01-05", "end": "2026-03-01"}),
               "cpr-1")  # its review date has passed: moot too
    await _put(client, make_patient(deceasedDateTime=DIED), PID)
    bundle = (await _ok(client)).json()
    check_resource(bundle, expected_type="Bundle")
    comp = _composition(bundle)
    assert comp["title"].startswith("DECEASED (died 2026-11-02 04:10 UTC)")
    assert [s["code"]["coding"][0]["code"] for s in comp["section"]] == ORDER  # all still there
    assert _codes(bundle) == ["deceased"]  # not "review the CPR decision", "ask a preference"
    first = _issues(bundle)[0]
    assert first["severity"] == "high" and "2026-11-02 04:10 UTC" in first["detail"]
    assert first["implicated"] == [{"reference": f"Patient/{PID}"}]
    assert "This person has died" in _section(bundle, "warnings")["text"]["div"]
    assert "NOT for attempted CPR" in _section(bundle, "cpr-decision")["text"]["div"]
    assert "No first-choice" in _section(bundle, "preferred-places")["text"]["div"]  # the fact


async def test_a_place_of_death_alone_says_the_person_died_and_where(
        client: httpx.AsyncClient) -> None:
    await _record(client)
    await _put(client, make_place_of_death(valueCodeableConcept=HOSPICE), "died-1")
    bundle = (await _ok(client)).json()
    assert _codes(bundle)[0] == "deceased"
    detail = _issues(bundle)[0]["detail"]
    assert "2026-09-14 03:20 UTC" in detail and "Hospice" in detail  # the builder's time
    assert {"reference": "Observation/died-1"} in _issues(bundle)[0]["implicated"]
    places = _section(bundle, "preferred-places")
    assert "Died at: Hospice" in places["text"]["div"]
    assert places["entry"][0] == {"reference": "Observation/died-1"}
    assert "http://test/Observation/died-1" in {e["fullUrl"] for e in bundle["entry"]}
    assert _composition(bundle)["title"].startswith("DECEASED (died 2026-09-14 03:20 UTC, "
                                                    "place of death: Hospice)")


async def test_deceased_without_a_time_is_still_unmistakable(client: httpx.AsyncClient) -> None:
    await _record(client)
    await _put(client, make_patient(deceasedBoolean=True), PID)
    bundle = (await _ok(client)).json()
    assert _codes(bundle) == ["deceased"]
    assert "time not recorded" in _issues(bundle)[0]["detail"]
    assert _composition(bundle)["title"].startswith("DECEASED (has died")


async def test_a_death_recorded_after_a_look_is_seen_at_the_next(
        client: httpx.AsyncClient) -> None:
    """The kept document must not outlive the news: both ways of recording a death."""
    await _record(client)
    alive = await _ok(client)
    assert "deceased" not in _codes(alive.json())
    assert (await _wishes(client, **{"If-None-Match": alive.headers["etag"]})).status_code == 304
    await _put(client, make_patient(deceasedDateTime=DIED), PID)
    dead = await _ok(client, **{"If-None-Match": alive.headers["etag"]})
    assert _codes(dead.json()) == ["deceased"] and dead.headers["etag"] != alive.headers["etag"]
    assert "place of death" not in _issues(dead.json())[0]["detail"]
    await _put(client, make_place_of_death(valueCodeableConcept=HOSPICE), "died-1")
    placed = await _ok(client, **{"If-None-Match": dead.headers["etag"]})
    assert "place of death: Hospice" in _issues(placed.json())[0]["detail"]
    assert "2026-11-02 04:10 UTC" in _issues(placed.json())[0]["detail"]  # the Patient's time
