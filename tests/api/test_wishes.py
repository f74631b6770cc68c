"""Patient/$wishes end to end on both engines: content, order, warnings, errors, ETag/304."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import orjson
import pytest

from eolc_fhir.fhir.parse import check_resource
from eolc_fhir.fhir.xhtml import check_div
from tests.builders import (
    NHS_NUMBER_SYSTEM,
    PATIENT_REF,
    VALID_NHS_NUMBERS,
    make_adrt,
    make_care_plan,
    make_consent_to_share,
    make_cpr_flag,
    make_episode,
    make_lpa,
    make_patient,
    make_preferred_place,
    make_register_flag,
    make_respect_form,
)

pytestmark = pytest.mark.usefixtures("engine_name")

NUMBER = VALID_NHS_NUMBERS[0]
PID = PATIENT_REF["reference"].split("/")[1]
QUERY = {"identifier": f"{NHS_NUMBER_SYSTEM}|{NUMBER}"}
SECTION_SYSTEM = "https://eolc.example.org/fhir/CodeSystem/eolc-wishes-section"
WARNING_SYSTEM = "https://eolc.example.org/fhir/CodeSystem/eolc-wishes-warning"
HEADINGS = "https://fhir.hl7.org.uk/CodeSystem/UKCore-RecordStandardHeadings"
ORDER = ["warnings", "cpr-decision", "respect", "adrt", "lpa", "preferred-places",
         "anticipatory-medicines", "contacts", "register", "what-matters", "consent"]


async def _put(client: httpx.AsyncClient, resource: dict[str, Any], rid: str) -> dict[str, Any]:
    resource = {**resource, "id": rid}
    resp = await client.put(f"/{resource['resourceType']}/{rid}", content=orjson.dumps(resource))
    assert resp.status_code in (200, 201), resp.text
    return dict(resp.json())


async def _record(client: httpx.AsyncClient, *, place_of_death: bool = True,
                  consent: dict[str, Any] | None = None) -> None:
    await _put(client, make_patient(), PID)
    await _put(client, {"resourceType": "Organization", "name": "Coordination Centre",
                        "telecom": [{"system": "phone", "value": "0300 555 0199"}]},
               "coordination-centre")
    await _put(client, {"resourceType": "Practitioner", "name": [{"family": "Patel",
                                                                  "given": ["Nia"]}],
                        "telecom": [{"system": "phone", "value": "07700 900456"}]}, "nurse-patel")
    await _put(client, make_register_flag(), "register-1")
    await _put(client, make_cpr_flag(), "cpr-1")
    await _put(client, make_respect_form(), "respect-1")
    await _put(client, make_adrt(), "adrt-1")
    await _put(client, make_lpa(), "lpa-1")
    if place_of_death:
        await _put(client, make_preferred_place(), "ppd-1")
    await _put(client, make_care_plan(note=[{"text": "Being at home <with> my cat"}]), "acp-1")
    await _put(client, consent or make_consent_to_share(), "share-1")
    await _put(client, make_episode(careManager={"reference": "Practitioner/nurse-patel"}),
               "episode-1")


async def _wishes(client: httpx.AsyncClient, **headers: str) -> httpx.Response:
    return await client.get("/Patient/$wishes", params=QUERY, headers=headers)


def _composition(bundle: dict[str, Any]) -> dict[str, Any]:
    first: dict[str, Any] = bundle["entry"][0]["resource"]
    assert first["resourceType"] == "Composition"
    return first


def _warnings(bundle: dict[str, Any]) -> list[str]:
    issues = [e["resource"] for e in bundle["entry"]
              if e["resource"]["resourceType"] == "DetectedIssue"]
    return sorted(c["code"] for i in issues for c in i["code"]["coding"]
                  if c["system"] == WARNING_SYSTEM)


def _section(bundle: dict[str, Any], code: str) -> dict[str, Any]:
    for section in _composition(bundle)["section"]:
        if section["code"]["coding"][0]["code"] == code:
            return dict(section)
    raise AssertionError(f"no section {code}")


async def test_document_content_and_order(client: httpx.AsyncClient) -> None:
    await _record(client)
    resp = await _wishes(client)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/fhir+json")
    bundle = resp.json()
    check_resource(bundle, expected_type="Bundle")  # valid FHIR R4 (base rules)
    assert bundle["type"] == "document" and bundle["identifier"]["value"] and bundle["timestamp"]
    comp = _composition(bundle)
    assert comp["status"] == "final"
    assert comp["type"]["coding"][0]["code"] == "end-of-life-emergency-summary"
    assert comp["subject"] == {"reference": f"Patient/{PID}"}
    assert comp["date"] and "991 200 3888" in comp["title"]
    codes = [s["code"]["coding"][0]["code"] for s in comp["section"]]
    assert codes == ORDER
    assert all(s["code"]["coding"][0]["system"] == SECTION_SYSTEM for s in comp["section"])
    assert _section(bundle, "adrt")["code"]["coding"][1] == {
        "system": HEADINGS, "code": "advance-decision-to-refuse-treatment"}
    full_urls = {e["fullUrl"] for e in bundle["entry"]}
    author = comp["author"][0]["reference"]
    assert author in full_urls and author.startswith("urn:uuid:")
    for section in comp["section"]:
        assert check_div(section["text"]["div"]) == []
        for entry in section.get("entry", []):
            ref = entry["reference"]
            assert ref in full_urls or f"http://test/{ref}" in full_urls, ref
    assert _warnings(bundle) == []
    types = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert types[:2] == ["Composition", "Patient"]
    for rtype in ("Flag", "DocumentReference", "Consent", "RelatedPerson", "Observation",
                  "CarePlan", "EpisodeOfCare", "Organization", "Practitioner", "Device"):
        assert rtype in types, rtype


async def test_sections_say_what_a_crew_needs(client: httpx.AsyncClient) -> None:
    await _record(client)
    bundle = (await _wishes(client)).json()
    text = {code: _section(bundle, code)["text"]["div"] for code in ORDER}
    assert "NOT for attempted CPR" in text["cpr-decision"]
    assert "red folder" in text["adrt"] and "Cardiopulmonary resuscitation" in text["adrt"]
    assert "07700 900123" in text["lpa"]
    assert "first choice" in text["preferred-places"]
    assert "0300 555 0199" in text["contacts"] and "Nia Patel" in text["contacts"]
    assert "Being at home &lt;with&gt; my cat" in text["what-matters"]  # escaped, not markup
    assert "No anticipatory medicines recorded" in text["anticipatory-medicines"]
    assert _section(bundle, "anticipatory-medicines")["emptyReason"]["coding"][0]["code"] == \
        "nilknown"


async def test_instance_route_gives_the_same_document(client: httpx.AsyncClient) -> None:
    await _record(client)
    by_number, by_id = await _wishes(client), await client.get(f"/Patient/{PID}/$wishes")
    assert by_id.status_code == 200
    assert by_id.headers["ETag"] == by_number.headers["ETag"]
    assert _composition(by_id.json())["section"] == _composition(by_number.json())["section"]


async def test_cpr_past_review_date_is_a_warning(client: httpx.AsyncClient) -> None:
    await _record(client)
    past = (date.today() - timedelta(days=3)).isoformat()
    await _put(client, make_cpr_flag(period={"start": "2025-01-01T10:00:00Z", "end": past}),
               "cpr-1")
    bundle = (await _wishes(client)).json()
    assert _warnings(bundle) == ["cpr-review-overdue"]
    issue = next(e["resource"] for e in bundle["entry"]
                 if e["resource"]["resourceType"] == "DetectedIssue")
    assert issue["implicated"] == [{"reference": "Flag/cpr-1"}]
    assert issue["severity"] == "high"
    assert "PAST ITS REVIEW DATE" in _section(bundle, "cpr-decision")["text"]["div"]
    warnings = _section(bundle, "warnings")
    assert warnings["entry"][0]["reference"] == f"urn:uuid:{issue['id']}"


async def test_no_first_choice_place_of_death_is_a_warning(client: httpx.AsyncClient) -> None:
    await _record(client, place_of_death=False)
    assert _warnings((await _wishes(client)).json()) == ["no-first-choice-place-of-death"]


async def test_consent_withdrawn_is_a_warning(client: httpx.AsyncClient) -> None:
    withdrawn = make_consent_to_share(category=[{"coding": [{
        "system": "http://snomed.info/sct", "code": "882941000000102"}]}])
    await _record(client, consent=withdrawn)
    bundle = (await _wishes(client)).json()
    assert _warnings(bundle) == ["consent-withdrawn"]
    assert "WITHDRAWN" in _section(bundle, "consent")["text"]["div"]


async def test_two_active_cpr_decisions_conflict(client: httpx.AsyncClient) -> None:
    await _record(client)
    await _put(client, make_cpr_flag(code={"coding": [{"system": "http://snomed.info/sct",
                                                       "code": "450475007"}]}), "cpr-2")
    bundle = (await _wishes(client)).json()
    assert _warnings(bundle) == ["cpr-conflict"]
    assert len(_section(bundle, "cpr-decision")["entry"]) == 2


async def test_several_patients_with_one_number(client: httpx.AsyncClient) -> None:
    await _record(client)
    await _put(client, make_patient(name=[{"family": "Hughes", "given": ["Meg"]}]), "duplicate")
    await _put(client, make_cpr_flag(subject={"reference": "Patient/duplicate"}), "cpr-dup")
    resp = await _wishes(client)
    assert resp.status_code == 200
    bundle = resp.json()
    assert "several-patients-match" in _warnings(bundle)
    assert "cpr-conflict" in _warnings(bundle)  # the duplicate's decision is not hidden
    patients = {e["resource"]["id"] for e in bundle["entry"]
                if e["resource"]["resourceType"] == "Patient"}
    assert patients == {PID, "duplicate"}
    assert _composition(bundle)["subject"] == {"reference": "Patient/duplicate"}  # newest


async def test_unknown_number_is_404(client: httpx.AsyncClient) -> None:
    await _record(client)
    resp = await client.get("/Patient/$wishes",
                            params={"identifier": f"{NHS_NUMBER_SYSTEM}|{VALID_NHS_NUMBERS[3]}"})
    assert resp.status_code == 404
    assert resp.json()["resourceType"] == "OperationOutcome"
    assert (await client.get("/Patient/nobody/$wishes")).status_code == 404


@pytest.mark.parametrize("identifier", [f"{NHS_NUMBER_SYSTEM}|9912003814", "9912003814",
                                        f"{NHS_NUMBER_SYSTEM}|12345", "urn:other|9912003888",
                                        ""])
async def test_bad_identifier_is_400(client: httpx.AsyncClient, identifier: str) -> None:
    resp = await client.get("/Patient/$wishes", params={"identifier": identifier})
    assert resp.status_code == 400
    assert resp.json()["issue"][0]["expression"] == ["identifier"]


async def test_etag_and_if_none_match(client: httpx.AsyncClient) -> None:
    await _record(client)
    first = await _wishes(client)
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')
    again = await _wishes(client, **{"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["ETag"] == etag
    await _put(client, make_lpa(telecom=[{"system": "phone", "value": "07700 900999"}]), "lpa-1")
    changed = await _wishes(client, **{"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert "07700 900999" in _section(changed.json(), "lpa")["text"]["div"]


async def test_etag_changes_when_a_contact_changes(client: httpx.AsyncClient) -> None:
    await _record(client)
    etag = (await _wishes(client)).headers["ETag"]
    await _put(client, {"resourceType": "Organization", "name": "Coordination Centre",
                        "telecom": [{"system": "phone", "value": "0300 555 0100"}]},
               "coordination-centre")
    assert (await _wishes(client, **{"If-None-Match": etag})).status_code == 200


async def test_deleted_resource_leaves_the_document(client: httpx.AsyncClient) -> None:
    await _record(client)
    assert (await client.delete("/Consent/adrt-1")).status_code == 204
    bundle = (await _wishes(client)).json()
    assert "adrt-1" not in {e["resource"].get("id") for e in bundle["entry"]}
    assert "emptyReason" in _section(bundle, "adrt")


async def test_capability_statement_declares_the_operations(client: httpx.AsyncClient) -> None:
    statement = (await client.get("/metadata")).json()
    patient = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
    names = {op["name"]: op["definition"] for op in patient.get("operation", [])}
    assert names["wishes"].endswith("/OperationDefinition/Patient-wishes")
    assert names["everything"].endswith("/OperationDefinition/Patient-everything")


class _WithdrawnState:
    """Stands in for the security state: only what visible_rows asks of it."""

    def __init__(self, withdrawn: set[str]) -> None:
        self.withdrawn = frozenset(withdrawn)

    async def withdrawn_patients(self) -> frozenset[str]:
        return self.withdrawn

    async def withdrawn_among(self, patient_ids: set[str]) -> frozenset[str]:
        return self.withdrawn & patient_ids


async def test_withdrawn_consent_hides_before_the_narrative(client: httpx.AsyncClient) -> None:
    import time

    from eolc_fhir.security.principal import Principal, RequestContext, current
    from eolc_fhir.security.scopes import parse_scopes
    from eolc_fhir.services.wishes.document import wishes_for_patient

    withdrawn = make_consent_to_share(category=[{"coding": [{
        "system": "http://snomed.info/sct", "code": "882941000000102"}]}])
    await _record(client, consent=withdrawn)
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    crew = Principal("demo-ambulance", "RYC01", "ambulance", parse_scopes("system/*.rs"),
                     time.time() + 60)
    token = current.set(RequestContext("r1", principal=crew))
    ctx.security = _WithdrawnState({PID})
    try:
        answer = await wishes_for_patient(ctx, PID, base_url="http://test")
    finally:
        ctx.security = None
        current.reset(token)
    assert answer.body is not None
    bundle = orjson.loads(answer.body)
    kept = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert "Flag" not in kept and "RelatedPerson" not in kept  # recorded by someone else
    assert "No CPR decision recorded" in _section(bundle, "cpr-decision")["text"]["div"]
    assert "07700 900123" not in answer.body.decode()
    assert _warnings(bundle) == ["consent-withdrawn", "no-first-choice-place-of-death"]
    assert "WITHDRAWN" in _section(bundle, "consent")["text"]["div"]  # says why


async def test_care_plan_past_its_review_date_is_a_warning(client: httpx.AsyncClient) -> None:
    await _record(client)
    past = (date.today() - timedelta(days=1)).isoformat()
    await _put(client, make_care_plan(extension=[{
        "url": "https://eolc.example.org/fhir/StructureDefinition/eolc-review-date",
        "valueDate": past}]), "acp-1")
    bundle = (await _wishes(client)).json()
    assert _warnings(bundle) == ["acp-review-overdue"]
