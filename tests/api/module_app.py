"""One app for a whole test module: a migrated database per engine, loaded once, one client.

A module that uses it imports ``engine_name`` from here (module scope; the conftest's is per
test) and builds its ``client`` fixture from ``module_database`` and ``module_client``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest

from eolc_fhir.app import create_app
from eolc_fhir.config import Settings
from tests.conftest import _migrated

FHIR = "application/fhir+json"


@pytest.fixture(scope="module")
def engine_name(request: pytest.FixtureRequest) -> str:
    """The conftest's engine parameter, held for the whole module (one app per engine)."""
    return str(request.param)


def module_database(engine_name: str, request: pytest.FixtureRequest,
                    tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[str]:
    """A fresh migrated database on the engine, for the module's lifetime."""
    yield from _migrated(engine_name, request, tmp_path_factory.mktemp(name) / f"{name}.db")


@asynccontextmanager
async def module_client(url: str, resources: Iterable[dict[str, Any]] = (),
                        headers: dict[str, str] | None = None,
                        **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A running app (no auth) on ``url`` with ``resources`` PUT in one transaction first."""
    app = create_app(Settings(database_url=url, insecure_dev=True, base_url="http://test",
                              **settings))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://test", headers=headers) as http:
            entries = [{"resource": r, "request": {"method": "PUT",
                                                   "url": f"{r['resourceType']}/{r['id']}"}}
                       for r in resources]
            if entries:
                bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
                loaded = await http.post("/", content=orjson.dumps(bundle),
                                         headers={"Content-Type": FHIR})
                assert loaded.status_code == 200, loaded.text
            yield http
