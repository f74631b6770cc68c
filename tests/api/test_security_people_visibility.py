"""Who sees what, for people signed in through an app: a GP person sees their practice's
people only; an ambulance person sees the summary only. One app per engine; two practices,
one person each; everything written by the GP practice's system client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio

from eolc_fhir.config import Settings
from eolc_fhir.security.scopes import parse_scopes
from tests.api.measure_cohort import PERIOD
from tests.api.module_app import engine_name, module_database
from tests.builders import (
    NHS_NUMBER_SYSTEM,
    ODS_SYSTEM,
    VALID_NHS_NUMBERS,
    make_care_plan,
    make_patient,
    make_register_flag,
)
from tests.security_support import FHIR, SecureApp, secure_app

__all__ = ["engine_name"]  # a fixture (module scope)

pytestmark = pytest.mark.asyncio(loop_scope="module")

OURS, THEIRS = "Y01234", "Y09999"
MEASURE = "/Measure/deaths-in-hospital/$evaluate-measure"
MINE, OTHER = "vis-mine", "vis-other"
NHS = {MINE: VALID_NHS_NUMBERS[1], OTHER: VALID_NHS_NUMBERS[2]}


def _practice(org_id: str, ods: str, name: str) -> dict[str, Any]:
    return {"resourceType": "Organization", "id": org_id, "name": name,
            "identifier": [{"system": ODS_SYSTEM, "value": ods}]}


def _person(pid: str, org_id: str) -> dict[str, Any]:
    patient = make_patient(id=pid, generalPractitioner=[{"reference": f"Organization/{org_id}"}])
    patient["identifier"][0]["value"] = NHS[pid]
    return patient


@pytest.fixture(scope="module")
def vis_url(engine_name: str, request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from module_database(engine_name, request, tmp_path_factory, "visibility")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def secure(vis_url: str, tmp_path_factory: pytest.TempPathFactory
                 ) -> AsyncIterator[SecureApp]:
    settings = Settings(database_url=vis_url, base_url="http://test",
                        demo_keys_dir=Path(tmp_path_factory.mktemp("keys")))
    async with secure_app(settings) as app:
        gp = await app.headers("gp")
        for resource in (_practice("vis-ours", OURS, "Riverside Surgery"),
                         _practice("vis-theirs", THEIRS, "Hilltop Surgery"),
                         _person(MINE, "vis-ours"), _person(OTHER, "vis-theirs")):
            path = f"/{resource['resourceType']}/{resource['id']}"
            put = await app.http.put(path, content=orjson.dumps(resource), headers=gp)
            assert put.status_code == 201, put.text
        for pid in (MINE, OTHER):
            for resource in (make_care_plan(id=f"plan-{pid}", subject={"reference":
                                                                       f"Patient/{pid}"}),
                             make_register_flag(id=f"flag-{pid}", subject={"reference":
                                                                           f"Patient/{pid}"})):
                path = f"/{resource['resourceType']}/{resource['id']}"
                put = await app.http.put(path, content=orjson.dumps(resource), headers=gp)
                assert put.status_code == 201, put.text
        yield app


def person(secure: SecureApp, role: str, ods: str, scope: str = "user/*.rs",
           user: str | None = None) -> dict[str, str]:
    """A person's token, as the authorization code flow issues it (tests/api/
    test_smart_signin.py follows the flow itself)."""
    user = user or f"{role}-person"
    token = secure.ctx.security.tokens.issue(
        client_id="test-console", ods=ods, role=role, grants=parse_scopes(scope, context="user"),
        user=user, fhir_user=f"http://test/Practitioner/{user}")
    return {"Authorization": f"Bearer {token}", "Content-Type": FHIR}


async def _ids(secure: SecureApp, headers: dict[str, str], query: str) -> set[str]:
    response = await secure.http.get(query, headers=headers)
    assert response.status_code == 200, response.text
    return {f"{e['resource']['resourceType']}/{e['resource']['id']}"
            for e in response.json().get("entry", [])
            if e["resource"]["resourceType"] != "OperationOutcome"}


@pytest.mark.engines("sqlite", "postgresql")
async def test_a_gp_person_sees_their_practices_people_only(secure: SecureApp) -> None:
    gp = person(secure, "gp", OURS)
    for path in (f"/Patient/{MINE}", f"/CarePlan/plan-{MINE}", f"/Patient/{MINE}/_history/1"):
        assert (await secure.http.get(path, headers=gp)).status_code == 200, path
    for path in (f"/Patient/{OTHER}", f"/CarePlan/plan-{OTHER}", f"/Flag/flag-{OTHER}",
                 f"/Patient/{OTHER}/_history/1", f"/Patient/{OTHER}/$everything",
                 f"/Patient/{OTHER}/$wishes"):
        refused = await secure.http.get(path, headers=gp)
        assert refused.status_code == 404, (path, refused.text)
        assert "is not known" in refused.json()["issue"][0]["diagnostics"]
    # Searches filter: someone else's person is simply not found.
    assert await _ids(secure, gp, f"/Patient?identifier={NHS_NUMBER_SYSTEM}|{NHS[OTHER]}") \
        == set()
    assert await _ids(secure, gp, f"/Patient?identifier={NHS_NUMBER_SYSTEM}|{NHS[MINE]}") \
        == {f"Patient/{MINE}"}
    # Narrowed in the query, not only filtered: pages and totals count their people alone.
    for query, wanted in (("/CarePlan?_count=1&_total=accurate", f"plan-{MINE}"),
                          ("/Patient?_count=1&_total=accurate&_sort=-_id", MINE)):
        page = (await secure.http.get(query, headers=gp)).json()
        assert page["total"] == 1, query
        assert [e["resource"]["id"] for e in page["entry"]] == [wanted]
        assert not [link for link in page["link"] if link["relation"] == "next"]
    assert await _ids(secure, gp, "/CarePlan?_include=CarePlan:subject") == {
        f"CarePlan/plan-{MINE}", f"Patient/{MINE}"}
    found = await _ids(secure, gp, f"/Patient?_id={MINE},{OTHER}&_revinclude=Flag:subject"
                                   "&_revinclude=Provenance:target")
    assert f"Flag/flag-{MINE}" in found and f"Patient/{MINE}" in found
    assert not any(OTHER in ref for ref in found)
    history = await _ids(secure, gp, "/CarePlan/_history")
    assert history == {f"CarePlan/plan-{MINE}"}
    everything = await _ids(secure, gp, f"/Patient/{MINE}/$everything")
    assert {f"Patient/{MINE}", f"CarePlan/plan-{MINE}", f"Flag/flag-{MINE}"} <= everything
    # Inside a batch, entry by entry, the same.
    batch = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": url}}
        for url in (f"Patient/{OTHER}", f"Patient/{MINE}", "CarePlan")]}
    answered = await secure.http.post("/", content=orjson.dumps(batch), headers=gp)
    assert answered.status_code == 200, answered.text
    other, mine, plans = answered.json()["entry"]
    assert other["response"]["status"].startswith("404") and "resource" not in other
    assert mine["response"]["status"].startswith("200")
    assert [e["resource"]["id"] for e in plans["resource"]["entry"]] == [f"plan-{MINE}"]
    # $wishes by NHS number: theirs as unknown as a number nobody has; ours answered.
    theirs = await secure.http.get(
        f"/Patient/$wishes?identifier={NHS_NUMBER_SYSTEM}|{NHS[OTHER]}", headers=gp)
    assert theirs.status_code == 404, theirs.text
    ours = await secure.http.get(
        f"/Patient/$wishes?identifier={NHS_NUMBER_SYSTEM}|{NHS[MINE]}", headers=gp)
    assert ours.status_code == 200, ours.text
    # ... and again, answered from the kept document: still refused for theirs.
    coordinator = person(secure, "coordination-centre", "CC001")
    assert (await secure.http.get(f"/Patient/$wishes?identifier={NHS_NUMBER_SYSTEM}|"
                                  f"{NHS[OTHER]}", headers=coordinator)).status_code == 200
    again = await secure.http.get(
        f"/Patient/$wishes?identifier={NHS_NUMBER_SYSTEM}|{NHS[OTHER]}", headers=gp)
    assert again.status_code == 404


@pytest.mark.engines("sqlite")
async def test_provenance_of_someone_elses_person_is_not_shown(secure: SecureApp) -> None:
    gp, system = person(secure, "gp", OURS), await secure.headers("gp")
    search = f"/Provenance?target=CarePlan/plan-{OTHER}"
    everyone = await _ids(secure, system, search)
    assert everyone  # the write's Provenance, seen by the practice's system
    assert await _ids(secure, gp, search) == set()
    one = next(iter(everyone)).split("/")[1]
    assert (await secure.http.get(f"/Provenance/{one}", headers=gp)).status_code == 404
    assert (await secure.http.get(f"/Provenance/{one}", headers=system)).status_code == 200
    ours = await _ids(secure, gp, f"/Provenance?target=CarePlan/plan-{MINE}")
    assert ours


@pytest.mark.engines("sqlite")
async def test_systems_and_the_coordination_centre_see_everyone(secure: SecureApp) -> None:
    system = await secure.headers("gp")  # the practice's EHR: not held to the practice
    coordinator = person(secure, "coordination-centre", "CC001")
    for headers in (system, coordinator):
        assert await _ids(secure, headers, f"/Patient?_id={MINE},{OTHER}") == {
            f"Patient/{MINE}", f"Patient/{OTHER}"}
        assert (await secure.http.get(f"/CarePlan/plan-{OTHER}", headers=headers)
                ).status_code == 200


@pytest.mark.engines("sqlite")
async def test_an_ambulance_person_sees_the_summary_only(secure: SecureApp) -> None:
    crew = person(secure, "ambulance", "RYC01")
    wishes = await secure.http.get(
        f"/Patient/$wishes?identifier={NHS_NUMBER_SYSTEM}|{NHS[OTHER]}", headers=crew)
    assert wishes.status_code == 200, wishes.text
    page = await secure.http.get(
        f"/Patient/$wishes?identifier={NHS_NUMBER_SYSTEM}|{NHS[MINE]}&_format=html",
        headers={**crew, "Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert await _ids(secure, crew, f"/Patient?identifier={NHS_NUMBER_SYSTEM}|{NHS[MINE]}"
                                    "&_revinclude=Flag:subject") == {f"Patient/{MINE}"}
    for path in ("/Flag", f"/Flag?subject=Patient/{MINE}", f"/CarePlan/plan-{MINE}",
                 f"/Patient/{MINE}/$everything"):
        refused = await secure.http.get(path, headers=crew)
        assert refused.status_code == 403, (path, refused.text)
    assert "summary only" in (await secure.http.get("/Flag", headers=crew)
                              ).json()["issue"][0]["diagnostics"]
    # The crew's systems (client credentials) keep reading what they read before.
    system = await secure.headers("ambulance")
    assert (await secure.http.get("/Flag", headers=system)).status_code == 200


@pytest.mark.engines("sqlite")
async def test_a_gp_persons_measure_reports_name_their_practices_people_only(
        secure: SecureApp) -> None:
    gp = person(secure, "gp", OURS)

    async def status(**params: str) -> int:
        answer = await secure.http.get(MEASURE, params={**PERIOD, **params}, headers=gp)
        return answer.status_code

    assert await status() == 200  # the region's counts: no patient named
    assert await status(reportType="subject-list") == 403
    assert await status(reportType="subject-list", subject="Organization/vis-theirs") == 403
    assert await status(reportType="subject-list", subject="Organization/vis-ours") == 200
    assert await status(reportType="subject", subject=f"Patient/{MINE}") == 200
    unknown = await status(reportType="subject", subject="Patient/nobody-at-all")
    assert await status(reportType="subject", subject=f"Patient/{OTHER}") == unknown == 400
