"""The lean paths in front of FastAPI answer the hot requests themselves, errors included,
exactly as the routes would, and hand every other shape of request to the full stack."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from eolc_fhir.api.fastread import FastReadMiddleware
from tests.api.test_wishes import NUMBER, PID, QUERY, _record
from tests.builders import NHS_NUMBER_SYSTEM

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
    inner = _Inner()
    scope = {"type": "http", "method": "GET", "path": path, "query_string": query.encode(),
             "headers": [(b"host", host)], "app": client.app,  # type: ignore[attr-defined]
             "scheme": "http", "server": ("test", 80), "root_path": ""}
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    await FastReadMiddleware(inner)(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:]), inner.calls


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
