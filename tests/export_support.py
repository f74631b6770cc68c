"""A bulk data client for the tests: kick off, poll, download, parse (as a real one does)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import text

from eolc_fhir.config import Settings
from eolc_fhir.fhir.models import model_class
from tests.security_support import SecureApp

__all__ = ["export_settings", "kick_off", "poll", "download_all", "export", "stored_counts",
           "ASYNC"]

ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}


def export_settings(url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": url, "base_url": "http://test", "demo_keys_dir": tmp_path / "keys",
        "export_dir": tmp_path / "exports", "export_poll_seconds": 0.2,
        "export_file_lines": 3, "run_dispatcher": False}
    return Settings(**{**values, **overrides})


async def kick_off(http: httpx.AsyncClient, headers: dict[str, str], url: str) -> str:
    response = await http.get(url, headers={**headers, **ASYNC})
    assert response.status_code == 202, response.text
    assert response.json()["resourceType"] == "OperationOutcome"
    return str(response.headers["content-location"]).removeprefix("http://test")


async def poll(http: httpx.AsyncClient, headers: dict[str, str], status_url: str,
               timeout: float = 20.0) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        response = await http.get(status_url, headers=headers)
        if response.status_code == 200:
            assert response.headers["content-type"].startswith("application/json")
            manifest: dict[str, Any] = response.json()
            return manifest
        assert response.status_code == 202, response.text
        assert response.headers["x-progress"] and response.headers["retry-after"]
        assert loop.time() < deadline, "the export did not finish in time"
        await asyncio.sleep(0.05)


async def download_all(http: httpx.AsyncClient, headers: dict[str, str],
                       manifest: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every output file, each line parsed as JSON and checked by the R4 model of its type."""
    found: dict[str, list[dict[str, Any]]] = {}
    for item in manifest["output"]:
        response = await http.get(item["url"].removeprefix("http://test"),
                                  headers={**headers, "Accept": "application/fhir+ndjson"})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/fhir+ndjson")
        lines = response.content.split(b"\n")
        assert lines[-1] == b"" and all(lines[:-1]), "one resource a line, newline-ended"
        resources = [orjson.loads(line) for line in lines[:-1]]
        assert len(resources) == item["count"]
        for resource in resources:
            assert resource["resourceType"] == item["type"]
            model_class(item["type"]).model_validate(resource)
        found.setdefault(item["type"], []).extend(resources)
    return found


async def export(secure: SecureApp, headers: dict[str, str], url: str
                 ) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    manifest = await poll(secure.http, headers, await kick_off(secure.http, headers, url))
    return manifest, await download_all(secure.http, headers, manifest)


async def stored_counts(secure: SecureApp) -> Counter[str]:
    async with secure.ctx.db.unit_of_work(write=False) as uow:
        rows = await uow.connection.execute(text(
            "SELECT res_type, count(*) FROM resources WHERE NOT deleted GROUP BY res_type"))
        return Counter({row[0]: int(row[1]) for row in rows})
