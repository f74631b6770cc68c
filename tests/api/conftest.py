"""API fixtures: the app with its lifespan running, driven through httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from eolc_fhir.app import create_app
from eolc_fhir.config import Settings
from eolc_fhir.subscriptions.receiver import Receiver

FHIR = "application/fhir+json"


@pytest.fixture
def settings(migrated_url: str) -> Settings:
    return Settings(database_url=migrated_url, insecure_dev=True, base_url="http://test")


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers={"Content-Type": FHIR}
        ) as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A real webhook receiver on 127.0.0.1 (HMAC secret "s3cret"), for subscription tests."""
    rec = await Receiver(secret="s3cret").start()
    try:
        yield rec
    finally:
        await rec.stop()
