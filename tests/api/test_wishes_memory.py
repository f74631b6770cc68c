"""$wishes and $everything on an in-memory SQLite database (it answered 500: the lean reader
opened a second connection, which cannot see that database)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest

from eolc_fhir.app import create_app
from eolc_fhir.config import Settings
from tests.api.conftest import FHIR
from tests.api.test_wishes import NUMBER, PID, QUERY, _record


@pytest.fixture
async def memory_client() -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(database_url="sqlite+aiosqlite:///:memory:", insecure_dev=True,
                        base_url="http://test", run_dispatcher=False)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     headers={"Content-Type": FHIR}) as http:
            yield http


async def test_wishes_on_an_in_memory_database(memory_client: httpx.AsyncClient) -> None:
    await _record(memory_client)
    resp = await memory_client.get("/Patient/$wishes", params=QUERY)
    assert resp.status_code == 200, resp.text
    bundle = resp.json()
    assert bundle["type"] == "document"
    patients = [e["resource"] for e in bundle["entry"]
                if e["resource"]["resourceType"] == "Patient"]
    assert [p["id"] for p in patients] == [PID]
    assert NUMBER in orjson.dumps(patients[0]).decode()
    assert (await memory_client.get(f"/Patient/{PID}/$wishes")).status_code == 200
    everything = await memory_client.get(f"/Patient/{PID}/$everything")
    assert everything.status_code == 200 and everything.json()["total"] >= 5
