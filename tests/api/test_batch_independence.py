"""A batch's entries succeed or fail on their own, each with its status and OperationOutcome;
a transaction with the same faults stays all-or-nothing."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from tests.builders import make_care_plan
from tests.builders_basic import patient
from tests.db_snapshot import snapshot

pytestmark = [pytest.mark.usefixtures("engine_name"), pytest.mark.engines("sqlite")]


def _post(resource: Any, url: str = "Patient") -> dict[str, Any]:
    return {"resource": resource, "request": {"method": "POST", "url": url}}


def _entries() -> list[Any]:
    """Good entries at 0, 4 and 9; every other one is wrong in its own way."""
    return [
        _post(patient()),                                              # 0 fine
        _post({**patient(nhs="9912003896"), "favouriteColour": "blue"}),  # 1 unknown element
        _post({"resourceType": "Starship"}),                           # 2 unknown type
        _post({**patient(nhs="9912003918"), "birthDate": "1940-02-30"}),  # 3 impossible date
        _post(patient(nhs="9912003926")),                              # 4 fine
        {"request": {"method": "GET", "url": "Starship/1"}},           # 5 bad URL
        {"request": {"method": "TRACE", "url": "Patient"}},            # 6 unsupported method
        {"resource": patient()},                                       # 7 no request
        _post(make_care_plan(author=None), "CarePlan"),                # 8 fails the ACP profile
        {"request": {"method": "GET", "url": "Patient?gender=female"}},  # 9 fine
        "not an entry",                                                # 10 not an object
    ]


_EXPECTED = {1: ("400", "Bundle.entry[1].resource.favouriteColour"),
             2: ("400", "Bundle.entry[2].resource.resourceType"),
             3: ("400", "Bundle.entry[3].resource.birthDate"),
             5: ("400", "Bundle.entry[5].request.url"),
             6: ("400", "Bundle.entry[6].request.method"),
             7: ("400", "Bundle.entry[7].request"),
             8: ("422", "Bundle.entry[8].resource.author"),
             10: ("400", "Bundle.entry[10]")}


def _db(client: httpx.AsyncClient) -> Any:
    return client.app.state.ctx.db  # type: ignore[attr-defined]


async def test_each_batch_entry_stands_alone(client: httpx.AsyncClient) -> None:
    resp = await client.post("/", content=orjson.dumps(
        {"resourceType": "Bundle", "type": "batch", "entry": _entries()}))
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["type"] == "batch-response" and len(out["entry"]) == len(_entries())
    responses = [e["response"] for e in out["entry"]]
    assert responses[0]["status"].startswith("201") and responses[4]["status"].startswith("201")
    assert responses[9]["status"].startswith("200")
    assert out["entry"][9]["resource"]["total"] == 2  # the two good creates before it
    for index, (status, where) in _EXPECTED.items():
        got = responses[index]
        assert got["status"] == status, (index, got)
        issues = got["outcome"]["issue"]
        assert any(i["severity"] == "error" for i in issues), (index, issues)
        expressions = [e for i in issues for e in i.get("expression", [])]
        assert any(e.startswith(where) for e in expressions), (index, expressions)
    assert (await client.get("/Patient/_history")).json()["total"] == 2
    assert (await client.get("/CarePlan/_history")).json()["total"] == 0


async def test_a_transaction_or_a_malformed_batch_changes_nothing(
        client: httpx.AsyncClient) -> None:
    before = await snapshot(_db(client))
    for bad in (1, 5, 7):
        entries = [e for i, e in enumerate(_entries()) if i in (0, bad, 4)]
        resp = await client.post("/", content=orjson.dumps(
            {"resourceType": "Bundle", "type": "transaction", "entry": entries}))
        assert resp.status_code == 400, (bad, resp.text)
        assert resp.json()["resourceType"] == "OperationOutcome"
    # a batch that is itself malformed is refused whole too, whatever its entries
    for body in ({"resourceType": "Bundle", "type": "batch", "entry": [_post(patient())],
                  "total": "three"},  # Bundle.total is an unsignedInt
                 {"resourceType": "Bundle", "type": "batch", "entry": {}},
                 {"resourceType": "Bundle", "type": "searchset"}):
        resp = await client.post("/", content=orjson.dumps(body))
        assert resp.status_code == 400, (body, resp.text)
    assert await snapshot(_db(client)) == before
