"""One pipeline, two front doors: the lean ASGI path and the routes answer alike.

For every role, with authentication on and off, on both engines, each request
the lean door serves (read by id, search by type, ``Patient/$wishes``) gets
the same status and body as the same request forced through the routes
(``_pretty=false`` makes the lean door step aside and changes nothing else).
A ``$wishes`` answer is a whole, valid document for every token that may ask
for one, and a 403 OperationOutcome for every token that may not read all a
document holds: never a document with parts filtered out.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from eolc_fhir.security.roles import OPERATION_ROLES, ROLES, role_allows
from tests.api.test_lean_paths import _lean, _lean_call
from tests.api.test_wishes import NUMBER, PID, QUERY, _record
from tests.builders import NHS_NUMBER_SYSTEM, make_care_plan
from tests.security_support import SecureApp, secure, secure_settings

__all__ = ["secure", "secure_settings"]

pytestmark = pytest.mark.usefixtures("engine_name")

_REQUESTS = [
    (f"/Patient/{PID}", {}),
    ("/Flag", {"patient": PID}),
    ("/Patient", {"identifier": f"{NHS_NUMBER_SYSTEM}|{NUMBER}"}),
    ("/Patient/$wishes", QUERY),
    (f"/Patient/{PID}/$wishes", {}),  # the route's own door, for the document checks
]
# Errors, answered by each door with the same OperationOutcome: (path, params, status).
_ERRORS = [
    ("/Patient/nobody", {}, 404),
    ("/Patient", {"family:near": "x"}, 400),  # an unsupported modifier is always a 400
    ("/Patient/$wishes", {"identifier": "123"}, 400),  # not an NHS number
    ("/Patient/$wishes", {"identifier": f"{NHS_NUMBER_SYSTEM}|9434765919"}, 404),  # nobody
]
_VOLATILE = ("id", "timestamp", "link", "meta")


def _normal(body: bytes) -> Any:
    """The body without what differs between two builds of the same answer."""
    value = orjson.loads(body)
    if value.get("resourceType") == "Bundle":
        return {k: v for k, v in value.items() if k not in _VOLATILE}
    return value


async def _both_doors(http: httpx.AsyncClient, path: str, params: dict[str, str],
                      headers: dict[str, str]) -> tuple[httpx.Response, httpx.Response]:
    lean = await http.get(path, params=params, headers=headers)
    routed = await http.get(path, params={**params, "_pretty": "false"}, headers=headers)
    return lean, routed


def assert_whole_document(bundle: dict[str, Any]) -> None:
    """A document Bundle whose Composition comes first and whose every reference to a
    section entry, the subject or the author resolves inside the Bundle."""
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "document"
    assert bundle.get("identifier") and bundle.get("timestamp")
    entries = bundle["entry"]
    composition = entries[0]["resource"]
    assert composition["resourceType"] == "Composition"
    held = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in entries}
    held |= {e["fullUrl"] for e in entries}
    refs = [composition["subject"]["reference"], *(a["reference"] for a in composition["author"])]
    refs += [e["reference"] for s in composition["section"] for e in s.get("entry", [])]
    missing = [r for r in refs if r not in held]
    assert not missing, f"the Composition points at what the Bundle does not hold: {missing}"


async def _assert_doors_agree(http: httpx.AsyncClient, headers: dict[str, str],
                              wishes_status: int, read_status: int = 200) -> None:
    """``read_status``: what the role gets for reading patient data (403 for a role with
    a population view only, e.g. commissioner), whichever door answers."""
    for path, params in _REQUESTS:
        lean, routed = await _both_doors(http, path, params, headers)
        expected = wishes_status if "$wishes" in path else read_status
        assert lean.status_code == routed.status_code == expected, (path, lean.text)
        assert _normal(lean.content) == _normal(routed.content), path
        if expected == 200 and "$wishes" in path:
            assert_whole_document(lean.json())
            assert lean.headers["etag"] == routed.headers["etag"]
        elif expected != 200:
            assert lean.json()["resourceType"] == "OperationOutcome"
    for path, params, status in _ERRORS:
        lean, routed = await _both_doors(http, path, params, headers)
        # a caller who may not use $wishes learns that before anything about the person
        expected = status if "$wishes" not in path or wishes_status == 200 else wishes_status
        expected = expected if read_status == 200 else read_status
        assert lean.status_code == routed.status_code == expected, (path, lean.text)
        assert lean.json() == routed.json() and lean.json()["resourceType"] == "OperationOutcome"


async def test_the_doors_agree_without_authentication(client: httpx.AsyncClient) -> None:
    await _record(client)
    await _assert_doors_agree(client, {}, 200)


@pytest.mark.parametrize("role", sorted(ROLES))
async def test_the_doors_agree_for_every_role(secure: SecureApp, role: str) -> None:
    secure.http.headers.update(await secure.headers("hospice", client_id="recorder"))
    await _record(secure.http)
    del secure.http.headers["Authorization"]
    headers = await secure.headers(role)
    await _assert_doors_agree(secure.http, headers,
                              200 if role in OPERATION_ROLES["wishes"] else 403,
                              200 if role_allows(role, "r", "Patient") else 403)


@pytest.mark.parametrize("scope", [
    "system/Patient.rs",  # the bug: a document without its Composition was sent
    "system/Patient.rs system/Flag.rs system/CarePlan.rs system/Composition.rs",
    "system/*.rs system/MedicationRequest.r",  # .r alone is enough to be given it
])
async def test_wishes_needs_everything_a_document_holds(secure: SecureApp, scope: str) -> None:
    secure.http.headers.update(await secure.headers("hospice", client_id="recorder"))
    await _record(secure.http)
    del secure.http.headers["Authorization"]
    headers = await secure.headers("ambulance", scope=scope)
    whole = scope.startswith("system/*.rs")
    for path, params in _REQUESTS[3:]:
        for response in await _both_doors(secure.http, path, params, headers):
            if whole:
                assert response.status_code == 200, response.text
                assert_whole_document(response.json())
                continue
            assert response.status_code == 403, response.text
            outcome = response.json()
            assert outcome["resourceType"] == "OperationOutcome"
            text = outcome["issue"][0]["diagnostics"]
            assert "$wishes" in text and "may not read" in text, text
            if scope == "system/Patient.rs":
                assert "Composition" in text, text


async def test_each_door_audits_its_wishes_with_the_person(secure: SecureApp) -> None:
    secure.http.headers.update(await secure.headers("hospice", client_id="recorder"))
    await _record(secure.http)
    del secure.http.headers["Authorization"]
    crew = await secure.headers("ambulance")
    lean, routed = await _both_doors(secure.http, "/Patient/$wishes", QUERY, crew)
    unchanged = await secure.http.get("/Patient/$wishes", params=QUERY,
                                      headers={**crew, "If-None-Match": lean.headers["etag"]})
    assert (lean.status_code, routed.status_code, unchanged.status_code) == (200, 200, 304)
    admin = await secure.headers("admin", client_id="auditor")
    found = await secure.http.get("/AuditEvent", params={"agent": "Device/test-ambulance",
                                                         "_count": "100"}, headers=admin)
    events = [e["resource"] for e in found.json()["entry"]]
    wishes = [e for e in events if e["subtype"][0]["code"] == "operation"]
    assert len(wishes) == 3
    for event in wishes:
        refs = {e["what"]["reference"] for e in event["entity"] if "what" in e}
        assert f"Patient/{PID}" in refs, event


@pytest.mark.parametrize("role", sorted(ROLES))
async def test_the_doors_agree_on_a_create_for_every_role(secure: SecureApp, role: str) -> None:
    """``POST CarePlan`` by the lean door and by the route (``?_pretty=false``): the same
    status for every role, the same refusal, and each stored create audited."""
    secure.http.headers.update(await secure.headers("hospice", client_id="recorder"))
    await _record(secure.http)
    del secure.http.headers["Authorization"]
    headers = {**await secure.headers(role), "Content-Type": "application/fhir+json"}
    plan = orjson.dumps(make_care_plan())
    lean = await secure.http.post("/CarePlan", content=plan, headers=headers)
    routed = await secure.http.post("/CarePlan", params={"_pretty": "false"}, content=plan,
                                    headers=headers)
    allowed = role_allows(role, "c", "CarePlan")
    assert lean.status_code == routed.status_code == (201 if allowed else 403), lean.text
    if not allowed:
        assert lean.json() == routed.json()
        return
    admin = await secure.headers("admin", client_id="auditor")
    for answer in (lean, routed):
        created = f"CarePlan/{answer.json()['id']}"
        found = await secure.http.get("/AuditEvent", params={"entity": created},
                                      headers=admin)
        events = [e["resource"] for e in found.json().get("entry", [])]
        assert [e["subtype"][0]["code"] for e in events] == ["create"], created


async def test_the_lean_door_refuses_a_request_no_client_made(secure: SecureApp) -> None:
    """Fail closed: with authentication on, the lean door alone (without the security
    middleware that authenticates) answers nothing but 401."""
    secure.http.app = secure.app  # type: ignore[attr-defined]  # what _lean drives
    for path, query in ((f"/Patient/{PID}", ""), ("/Patient", "_id=x"),
                        ("/Patient/$wishes", f"identifier={NHS_NUMBER_SYSTEM}|{NUMBER}")):
        status, body, reached = await _lean(secure.http, path, query)
        assert (status, reached) == (401, 0)
        assert orjson.loads(body)["issue"][0]["code"] == "login"
    status, _, body, reached = await _lean_call(secure.http, "POST", "/CarePlan",
                                                body=orjson.dumps(make_care_plan()))
    assert (status, reached) == (401, 0)
    assert orjson.loads(body)["issue"][0]["code"] == "login"
    admin = await secure.headers("admin", client_id="auditor")
    count = await secure.http.get("/CarePlan", params={"_summary": "count"}, headers=admin)
    assert count.json()["total"] == 0  # nothing stored
