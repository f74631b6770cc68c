"""The lean paths in front of FastAPI answer the hot requests themselves, errors included,
exactly as the routes would, and hand every other shape of request to the full stack."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from eolc_fhir.api.fastread import FastReadMiddleware
from tests.api.test_wishes import NUMBER, PID, QUERY, _record
from tests.builders import NHS_NUMBER_SYSTEM, make_care_plan, make_patient

pytestmark = pytest.mark.usefixtures("engine_name")


class _Inner:
    """Stands for the full stack: records that it was reached."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        await send({"type": "http.response.start", "status": 599, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def _lean(client: httpx.AsyncClient, path: str, query: str = "",
                host: bytes = b"test") -> tuple[int, bytes, int]:
    status, _headers, body, reached = await _lean_call(client, "GET", path, query, host=host)
    return status, body, reached


async def _lean_call(client: httpx.AsyncClient, method: str, path: str, query: str = "", *,
                     host: bytes = b"test", body: bytes = b"",
                     headers: tuple[tuple[bytes, bytes], ...] = ()
                     ) -> tuple[int, dict[str, str], bytes, int]:
    """The lean door alone: (status, headers, body, how often the full stack was reached).
    The body arrives in two parts, as a client's may."""
    inner = _Inner()
    scope = {"type": "http", "method": method, "path": path, "query_string": query.encode(),
             "headers": [(b"host", host), *headers],
             "app": client.app,  # type: ignore[attr-defined]
             "scheme": "http", "server": ("test", 80), "root_path": ""}
    sent: list[dict[str, Any]] = []
    parts = [body[:len(body) // 2], body[len(body) // 2:]]

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": parts.pop(0), "more_body": bool(parts)}

    await FastReadMiddleware(inner)(scope, receive, send)
    answer = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    return (sent[0]["status"], answer, b"".join(m.get("body", b"") for m in sent[1:]),
            inner.calls)


def _entries(body: bytes) -> list[Any]:
    return [e["resource"] for e in orjson.loads(body).get("entry", [])]


async def test_hot_requests_are_answered_before_the_router(client: httpx.AsyncClient) -> None:
    await _record(client)
    status, body, reached = await _lean(client, f"/Patient/{PID}")
    assert (status, reached) == (200, 0)
    assert orjson.loads(body)["id"] == PID

    query = f"identifier={NHS_NUMBER_SYSTEM}|{NUMBER}"
    status, body, reached = await _lean(client, "/Patient", query)
    assert (status, reached) == (200, 0)
    full = await client.post("/Patient/_search", data={"identifier": QUERY["identifier"]},
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert _entries(body) == _entries(full.content) and len(_entries(body)) == 1

    status, body, reached = await _lean(client, "/Patient/$wishes", query)
    assert (status, reached) == (200, 0)
    routed = await client.get(f"/Patient/{PID}/$wishes")  # the instance route: full stack
    assert _entries(body)[1:] == _entries(routed.content)[1:]  # same resources after the
    # Composition (whose id and date are the building's own)


@pytest.mark.parametrize(("path", "query", "expected"), [
    ("/Patient/nobody", "", 404),
    ("/Patient", "family:near=x", 400),  # unknown parameters are ignored; modifiers not
    ("/Patient/$wishes", "identifier=123", 400),  # not an NHS number
    ("/Patient/$wishes", f"identifier={NHS_NUMBER_SYSTEM}|9434765919", 404),  # nobody
])
async def test_errors_are_answered_as_the_routes_answer_them(
        client: httpx.AsyncClient, path: str, query: str, expected: int) -> None:
    await _record(client)
    status, body, reached = await _lean(client, path, query)
    routed = await client.get(f"{path}?{query}&_pretty=false".replace("?&", "?"))
    assert (status, reached, routed.status_code) == (expected, 0, expected)
    assert orjson.loads(body) == routed.json()
    assert routed.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(("path", "query"), [
    ("/Patient", "identifier=x&_format=json"),  # response shaping
    ("/Patient/$wishes", "identifier=x&other=y"),
    ("/NotAType", "a=b"),
    ("/Patient/$everything", "a=b"),
])
async def test_other_shapes_go_to_the_full_stack(client: httpx.AsyncClient, path: str,
                                                 query: str) -> None:
    await _record(client)
    status, _body, reached = await _lean(client, path, query)
    assert (status, reached) == (599, 1)


async def test_full_urls_follow_the_host_asked_for(client: httpx.AsyncClient,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    await _record(client)
    settings = client.app.state.ctx.settings  # type: ignore[attr-defined]
    monkeypatch.setattr(settings, "base_url", None)  # derive it from the request
    query = f"identifier={NHS_NUMBER_SYSTEM}|{NUMBER}"
    for host in (b"one.example:8080", b"two.example", b"one.example:8080"):
        status, body, _ = await _lean(client, "/Patient", query, host=host)
        assert status == 200
        full_url = orjson.loads(body)["entry"][0]["fullUrl"]
        assert full_url == f"http://{host.decode()}/Patient/{PID}"


_JSON = ((b"content-type", b"application/fhir+json"),)


async def test_a_create_is_answered_before_the_router(client: httpx.AsyncClient) -> None:
    """``POST [type]``: stored through the same service, answered as the route answers
    (201, Location, ETag, Last-Modified, the stored resource), ``Prefer`` honoured."""
    await _record(client)
    plan = orjson.dumps(make_care_plan())
    status, headers, body, reached = await _lean_call(client, "POST", "/CarePlan",
                                                      body=plan, headers=_JSON)
    assert (status, reached) == (201, 0)
    created = orjson.loads(body)
    assert headers["location"] == f"http://test/CarePlan/{created['id']}/_history/1"
    assert headers["etag"] == 'W/"1"' and headers["last-modified"]
    assert headers["content-type"] == "application/fhir+json; charset=utf-8"
    stored = await client.get(f"/CarePlan/{created['id']}")
    assert stored.json() == created
    routed = await client.post("/CarePlan?_pretty=false", content=plan,
                               headers={"Content-Type": "application/fhir+json"})
    assert routed.status_code == 201
    assert set(routed.headers) >= {"location", "etag", "last-modified"}
    assert {k: v for k, v in routed.json().items() if k not in ("id", "meta")} == \
        {k: v for k, v in created.items() if k not in ("id", "meta")}

    minimal = ((b"prefer", b"return=minimal"), *_JSON)
    status, headers, body, _ = await _lean_call(client, "POST", "/CarePlan", body=plan,
                                                headers=minimal)
    assert (status, body, headers["content-length"]) == (201, b"", "0")
    assert "content-type" not in headers and headers["location"]
    outcome = ((b"prefer", b"return=OperationOutcome"), *_JSON)
    status, _, body, _ = await _lean_call(client, "POST", "/CarePlan", body=plan,
                                          headers=outcome)
    assert status == 201 and orjson.loads(body)["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(("body", "expected"), [
    (b'{"resourceType": "CarePlan", "status": ', 400),  # not JSON
    (orjson.dumps(make_patient()), 400),  # another type than the URL's
    (orjson.dumps(make_care_plan(created="last week")), 400),  # not a dateTime
    (orjson.dumps(make_care_plan(author=None)), 422),  # the profile wants an author
])
async def test_a_refused_create_is_answered_as_the_route_answers_it(
        client: httpx.AsyncClient, body: bytes, expected: int) -> None:
    await _record(client)
    before = (await client.get("/CarePlan", params={"_summary": "count"})).json()["total"]
    status, _, answer, reached = await _lean_call(client, "POST", "/CarePlan", body=body,
                                                  headers=_JSON)
    routed = await client.post("/CarePlan?_pretty=false", content=body,
                               headers={"Content-Type": "application/fhir+json"})
    assert (status, reached, routed.status_code) == (expected, 0, expected)
    assert orjson.loads(answer) == routed.json()
    assert routed.json()["resourceType"] == "OperationOutcome"
    after = (await client.get("/CarePlan", params={"_summary": "count"})).json()["total"]
    assert after == before


@pytest.mark.parametrize(("path", "query", "headers"), [
    ("/CarePlan", "_format=json", _JSON),  # response shaping
    ("/CarePlan", "", ((b"if-none-exist", b"identifier=x"), *_JSON)),  # conditional create
    ("/NotAType", "", _JSON),
    ("/CarePlan/_search", "", _JSON),
    ("/", "", _JSON),  # batch or transaction
])
async def test_other_writes_go_to_the_full_stack(client: httpx.AsyncClient, path: str,
                                                 query: str,
                                                 headers: tuple[tuple[bytes, bytes], ...]
                                                 ) -> None:
    status, _, _, reached = await _lean_call(client, "POST", path, query,
                                             body=orjson.dumps(make_care_plan()),
                                             headers=headers)
    assert (status, reached) == (599, 1)
