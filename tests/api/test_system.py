"""/metadata, /healthz and /readyz."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from eolc_fhir.app import create_app
from eolc_fhir.config import Settings

pytestmark = pytest.mark.usefixtures("engine_name")


async def test_capability_statement(client: httpx.AsyncClient) -> None:
    cs = (await client.get("/metadata")).json()
    assert cs["resourceType"] == "CapabilityStatement"
    assert cs["fhirVersion"] == "4.0.1"
    assert "json" in cs["format"]
    rest = cs["rest"][0]
    assert {i["code"] for i in rest["interaction"]} >= {"transaction", "batch", "history-system"}
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    codes = {i["code"] for i in patient["interaction"]}
    assert codes >= {"read", "vread", "update", "delete", "create", "history-instance",
                     "history-type"}
    assert patient["conditionalCreate"] is True and patient["updateCreate"] is True
    assert "--insecure-dev" in rest["documentation"]  # the test app runs with --insecure-dev


async def test_health_and_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json()["status"] == "ok"
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


async def test_not_ready_when_migrations_are_missing(engine_url: str) -> None:
    settings = Settings(database_url=engine_url, insecure_dev=True, run_migrations=False,
                        run_dispatcher=False)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            assert (await http.get("/healthz")).status_code == 200
            ready = await http.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["resourceType"] == "OperationOutcome"


async def test_refuses_to_start_without_its_profiles(engine_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=engine_url, insecure_dev=True, run_dispatcher=False,
                        profiles_dir=tmp_path / "empty")
    app = create_app(settings)
    with pytest.raises(RuntimeError, match="no profiles found"):
        async with app.router.lifespan_context(app):
            pass
