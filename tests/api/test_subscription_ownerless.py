"""A Subscription created with authentication off does not keep delivering once the server
restarts with authentication on: the start switches it off and says so (ids only)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from eolc_fhir.app import create_app
from eolc_fhir.config import Settings
from eolc_fhir.services.subscriptions.ownership import OWNERLESS_REASON
from eolc_fhir.storage.security_repo import Origin, SecurityRepository
from eolc_fhir.storage.subscription_repo import SubscriptionRepository
from eolc_fhir.subscriptions.receiver import Receiver
from tests.api.conftest import FHIR
from tests.api.test_subscriptions import subscribe, wait_status
from tests.builders import make_register_flag
from tests.security_support import SecureApp
from tests.unit.subscriptions.support import kinds, notifications, subscription

FAST = {"delivery_retry_base_seconds": 0.05, "delivery_retry_max_seconds": 0.2,
        "dispatcher_poll_seconds": 0.2, "delivery_lease_seconds": 3, "base_url": "http://test"}


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[SecureApp]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     headers={"Content-Type": FHIR}) as http:
            yield SecureApp(http, app)


async def test_insecure_dev_subscription_is_off_after_a_secure_restart(
        migrated_url: str, receiver: Receiver, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    async with running(Settings(database_url=migrated_url, insecure_dev=True, **FAST)) as dev:
        sub_id = await subscribe(dev.http, subscription(receiver.url()))
        await wait_status(dev.http, sub_id, "active")
        owned_by_nobody = (await dev.http.post("/Flag", json=make_register_flag())).json()
        await receiver.wait_for(lambda r: len(notifications(r)) >= 1)
    before = len(receiver.received)
    assert kinds(receiver.received) == ["handshake", "event-notification"]

    caplog.set_level(logging.WARNING, logger="eolc_fhir.subscriptions")
    secure_settings = Settings(database_url=migrated_url,
                               demo_keys_dir=tmp_path / "keys", **FAST)
    async with running(secure_settings) as secure:
        switched = [r for r in caplog.records if "switched off" in r.getMessage()]
        assert len(switched) == 1 and sub_id in switched[0].getMessage()
        assert "1 subscription" in switched[0].getMessage()
        async with secure.ctx.db.unit_of_work(write=False) as uow:
            state = await SubscriptionRepository(uow.connection, uow.dialect).get(sub_id)
        assert state is not None and state.status == "off"

        admin = await secure.headers("admin")
        stored = (await secure.http.get(f"/Subscription/{sub_id}", headers=admin)).json()
        assert stored["status"] == "off"
        assert stored["error"] == OWNERLESS_REASON

        gp = await secure.headers("gp")
        flag = await secure.http.post("/Flag", json=make_register_flag(), headers=gp)
        assert flag.status_code == 201, flag.text
        await asyncio.sleep(1.5)  # several dispatcher polls
        assert len(receiver.received) == before, "an ownerless subscription was delivered"
        assert owned_by_nobody["id"] != flag.json()["id"]

    # A second secure start finds nothing more to switch off and says nothing.
    caplog.clear()
    async with running(secure_settings):
        assert not [r for r in caplog.records if "switched off" in r.getMessage()]


async def test_an_owned_subscription_keeps_delivering_after_a_secure_restart(
        migrated_url: str, receiver: Receiver, tmp_path: Path) -> None:
    """The control: only ownerless subscriptions are switched off."""
    async with running(Settings(database_url=migrated_url, insecure_dev=True, **FAST)) as dev:
        sub_id = await subscribe(dev.http, subscription(receiver.url()))
        await wait_status(dev.http, sub_id, "active")
        async with dev.ctx.db.unit_of_work(write=True) as uow:  # as if a client had made it
            await SecurityRepository(uow.connection, uow.dialect).record_origin(
                "Subscription", sub_id, Origin("test-coordination-centre", "CC001", None),
                created=True)
    secure_settings = Settings(database_url=migrated_url,
                               demo_keys_dir=tmp_path / "keys", **FAST)
    async with running(secure_settings) as secure:
        gp = await secure.headers("gp")
        assert (await secure.http.post("/Flag", json=make_register_flag(),
                                       headers=gp)).status_code == 201
        await receiver.wait_for(lambda r: len(notifications(r)) >= 1)
        admin = await secure.headers("admin")
        stored = (await secure.http.get(f"/Subscription/{sub_id}", headers=admin)).json()
        assert stored["status"] == "active"
