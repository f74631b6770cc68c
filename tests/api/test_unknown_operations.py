"""An operation this server does not define is a 400 `not-supported` OperationOutcome for
any method (it was "'$foo' is not a valid FHIR id"); the known ones still answer."""

from __future__ import annotations

import httpx
import pytest

from tests.api.test_wishes import PID, QUERY, _record
from tests.builders_basic import patient


@pytest.mark.engines("sqlite")
@pytest.mark.parametrize("method,url", [
    ("GET", "/$import"), ("POST", "/$import"), ("GET", "/Patient/$foo"),
    ("POST", "/Patient/$foo"), ("DELETE", "/Patient/$foo"), ("PUT", "/Patient/$foo"),
    ("POST", "/Patient/123/$bar"), ("GET", "/Patient/123/$bar"), ("GET", "/Banana/$foo"),
    ("PATCH", "/Patient/$foo"),
])
async def test_unknown_operation_is_not_supported(client: httpx.AsyncClient, method: str,
                                                  url: str) -> None:
    resp = await client.request(method, url, content=b"{}")
    assert resp.status_code == 400, resp.text
    issue = resp.json()["issue"][0]
    assert issue["code"] == "not-supported"
    name = url.rsplit("$", 1)[1]
    assert f"operation ${name} is not supported" in issue["diagnostics"]
    assert "FHIR id" not in issue["diagnostics"]


@pytest.mark.engines("sqlite")
async def test_known_operations_still_answer(client: httpx.AsyncClient) -> None:
    await _record(client)
    assert (await client.get("/Patient/$wishes", params=QUERY)).status_code == 200
    assert (await client.get(f"/Patient/{PID}/$everything")).status_code == 200
    assert (await client.get("/Subscription/$status")).status_code == 200
    validated = await client.post("/Patient/$validate", json=patient())
    assert validated.status_code == 200
    wrong = await client.post("/Patient/$wishes", json={})
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET"
    bulk = await client.post("/$export", json={})  # Bulk Data: GET only here
    assert bulk.status_code == 405 and bulk.headers["allow"] == "GET"
    assert "$wishes" in wrong.json()["issue"][0]["diagnostics"]
