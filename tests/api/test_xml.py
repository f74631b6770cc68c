"""FHIR XML on the wire: every official example sent and read in XML, Bundles, errors, limits.

One app for the module (SQLite: the format is decided above storage). Each
XML answer is read back with ``fhir.xml.from_xml`` and compared with the JSON
answer to the same request, so a lossy conversion fails here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio

from eolc_fhir.fhir.xml import from_xml, to_xml
from tests.api.module_app import engine_name, module_client, module_database
from tests.builders import NHS_NUMBER_SYSTEM, VALID_NHS_NUMBERS, make_patient
from tests.data import FHIR_R4_EXAMPLES

__all__ = ["engine_name"]  # a fixture (module scope)

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.engines("sqlite")]
XML = "application/fhir+xml"
JSON = "application/fhir+json"
EXAMPLES = sorted(FHIR_R4_EXAMPLES.glob("*.json"))


@pytest.fixture(scope="module")
def xml_url(engine_name: str, request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from module_database(engine_name, request, tmp_path_factory, "xml")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(xml_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with module_client(xml_url, run_dispatcher=False, max_body_bytes=200_000) as http:
        yield http


def _xml(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith(XML), response.text
    assert response.text.startswith("<?xml")
    return from_xml(response.content)


def _without_meta(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k not in ("meta", "id")}


async def test_every_official_example_is_written_and_read_in_xml(
        client: httpx.AsyncClient) -> None:
    for path in EXAMPLES:
        sent = orjson.loads(path.read_bytes())
        rtype = sent["resourceType"]
        created = await client.post(f"/{rtype}", content=to_xml(sent),
                                    headers={"Content-Type": XML})
        assert created.status_code == 201, (path.name, created.text)
        url = created.headers["Location"].split("/_history")[0].removeprefix("http://test")
        as_json = (await client.get(url)).json()
        if rtype != "Subscription":  # the server sets a Subscription's status, masks secrets
            assert _without_meta(as_json) == _without_meta(sent), path.name
        assert _xml(created) == as_json, path.name  # answered in the format it was sent in
        assert _xml(await client.get(url, headers={"Accept": XML})) == as_json, path.name


async def test_format_is_chosen_by_format_accept_and_body(client: httpx.AsyncClient) -> None:
    created = await client.post("/Patient", content=orjson.dumps(make_patient()),
                                headers={"Content-Type": JSON})
    url = f"/Patient/{created.json()['id']}"
    expected = created.json()
    for params, headers in [({"_format": "xml"}, {}), ({"_format": XML}, {}),
                            ({"_format": "application/xml"}, {"Accept": JSON}),
                            ({}, {"Accept": "application/xml"}),
                            ({}, {"Accept": f"{JSON};q=0.5, {XML}"}),
                            ({}, {"Accept": "text/xml"})]:
        assert _xml(await client.get(url, params=params, headers=headers)) == expected, params
    unencoded_plus = await client.get(f"{url}?_format=application/fhir+xml")
    assert _xml(unencoded_plus) == expected
    for params, headers in [({"_format": "json"}, {"Accept": XML}), ({}, {}),
                            ({}, {"Accept": f"{XML};q=0.4, {JSON}"}), ({}, {"Accept": "*/*"})]:
        answer = await client.get(url, params=params, headers=headers)
        assert "json" in answer.headers["content-type"] and answer.json() == expected
    pretty = await client.get(url, params={"_format": "xml", "_pretty": "true"})
    assert "\n  <" in pretty.text and from_xml(pretty.content) == expected
    statement = _xml(await client.get("/metadata", headers={"Accept": XML}))
    assert {"xml", XML} <= set(statement["format"])


async def test_bundles_in_xml(client: httpx.AsyncClient) -> None:
    number = VALID_NHS_NUMBERS[3]
    patient = make_patient(id="xml-pat")
    patient["identifier"][0]["value"] = number
    transaction = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": patient, "request": {"method": "PUT", "url": "Patient/xml-pat"}}]}
    done = await client.post("/", content=to_xml(transaction), headers={"Content-Type": XML})
    assert done.status_code == 200, done.text
    assert _xml(done)["entry"][0]["response"]["status"].startswith("20")
    for url, params in [("/Patient", {"_id": "xml-pat"}), ("/Patient/xml-pat/_history", {}),
                        ("/Patient/$wishes", {"identifier": f"{NHS_NUMBER_SYSTEM}|{number}"})]:
        as_json = await client.get(url, params=params)
        assert as_json.status_code == 200, as_json.text
        bundle = _xml(await client.get(url, params=params, headers={"Accept": XML}))
        assert bundle["resourceType"] == "Bundle"
        if url != "/Patient/$wishes":  # its document carries a fresh timestamp
            assert _without_meta(bundle) == _without_meta(as_json.json()), url
        else:
            assert bundle["type"] == "document"


async def _stored(client: httpx.AsyncClient) -> int:
    return int((await client.get("/Basic", params={"_summary": "count"})).json()["total"])


@pytest.mark.parametrize("body,code", [
    (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 '
     b'"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><Basic xmlns="http://hl7.org/fhir">'
     b'<code><text value="&lol2;"/></code></Basic>', "security"),
    (b'<?xml version="1.0"?><!DOCTYPE b [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
     b'<Basic xmlns="http://hl7.org/fhir"><code><text value="&x;"/></code></Basic>',
     "security"),
    (b'<Basic xmlns="http://hl7.org/fhir"><code><text value="x"/></code>'
     + b'<extension url="http://x.org/e">' * 80 + b"</extension>" * 80 + b"</Basic>",
     "too-costly"),
    (b'<Basic xmlns="http://hl7.org/fhir"><code><text value="x"/>', "structure"),
    (b'<Basic xmlns="http://hl7.org/fhir"><code><colour value="x"/></code></Basic>',
     "structure"),
])
async def test_hostile_or_broken_xml_is_a_400_outcome(client: httpx.AsyncClient, body: bytes,
                                                      code: str) -> None:
    before = await _stored(client)
    refused = await client.post("/Basic", content=body, headers={"Content-Type": XML})
    assert refused.status_code == 400, refused.text
    outcome = _xml(refused)  # the error is XML too: the client spoke XML
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == code
    assert "root:" not in refused.text
    assert await _stored(client) == before


async def test_errors_limits_and_other_formats(client: httpx.AsyncClient) -> None:
    missing = await client.get("/Patient/nobody", headers={"Accept": XML})
    assert missing.status_code == 404 and _xml(missing)["resourceType"] == "OperationOutcome"
    invalid = await client.post("/Patient", headers={"Content-Type": XML, "Accept": JSON},
                                content=b'<Patient xmlns="http://hl7.org/fhir">'
                                        b'<active value="yes"/></Patient>')
    assert invalid.status_code == 400
    assert invalid.json()["issue"][0]["expression"] == ["Patient.active"]
    big = b'<Basic xmlns="http://hl7.org/fhir"><code><text value="' + b"x" * 200_001 + b'"/>'
    too_large = await client.post("/Basic", content=big + b"</code></Basic>",
                                  headers={"Content-Type": XML})
    assert too_large.status_code == 413 and _xml(too_large)["resourceType"] == "OperationOutcome"
    for params, headers in [({"_format": "turtle"}, {}), ({}, {"Accept": "text/turtle"})]:
        refused = await client.get("/metadata", params=params, headers=headers)
        assert refused.status_code == 406 and refused.json()["resourceType"] == "OperationOutcome"
    plain = await client.post("/Basic", content=b"x", headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415


async def test_a_resource_xml_cannot_carry_is_a_406_not_a_crash(
        client: httpx.AsyncClient) -> None:
    basic = {"resourceType": "Basic", "code": {"text": "not a character: \ufffe"}}
    created = await client.post("/Basic", content=orjson.dumps(basic),
                                headers={"Content-Type": JSON})
    assert created.status_code == 201, created.text
    url = f"/Basic/{created.json()['id']}"
    refused = await client.get(url, headers={"Accept": XML})
    assert refused.status_code == 406 and _xml(refused)["issue"][0]["code"] == "not-supported"
    assert (await client.get(url)).json()["code"] == basic["code"]


async def test_a_fhirpath_patch_may_be_sent_in_xml(client: httpx.AsyncClient) -> None:
    created = await client.post("/Patient", content=orjson.dumps(make_patient()),
                                headers={"Content-Type": JSON})
    url = f"/Patient/{created.json()['id']}"
    patch = {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueCode": "replace"},
        {"name": "path", "valueString": "Patient.birthDate"},
        {"name": "value", "valueDate": "1941-03-15"}]}]}
    patched = await client.patch(url, content=to_xml(patch), headers={"Content-Type": XML})
    assert patched.status_code == 200, patched.text
    assert _xml(patched)["birthDate"] == "1941-03-15"  # answered in XML, as it was sent
    assert (await client.get(url)).json()["birthDate"] == "1941-03-15"
