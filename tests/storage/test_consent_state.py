"""Who has withdrawn consent to share, decided in the database, on both engines."""

from __future__ import annotations

import pytest

from eolc_fhir.storage.database import Database

pytestmark = pytest.mark.usefixtures("engine_name")

# (consent id, patient, active, withdrawn, recorded) — each person's story in order.
CONSENTS = [
    ("c1", "granted", True, False, 100),
    ("c2", "withdrew", True, False, 100),
    ("c3", "withdrew", True, True, 200),  # latest is a withdrawal
    ("c4", "regranted", True, True, 100),
    ("c5", "regranted", True, False, 300),  # a later grant outranks the withdrawal
    ("c6", "withdrew-twice", True, True, 100),
    ("c7", "withdrew-twice", True, True, 200),
    ("c8", "inactive-withdrawal", True, False, 100),
    ("c9", "inactive-withdrawal", False, True, 200),  # an entered-in-error withdrawal
    ("c10", "tie", True, False, 500),
    ("c11", "tie", True, True, 500),  # same instant: the withdrawal is not outranked
    ("c12", "old-grant-later-withdrawal", True, True, 900),
    ("c13", "old-grant-later-withdrawal", True, False, 50),
]


async def test_latest_active_consent_decides(migrated_url: str) -> None:
    db = Database(migrated_url)
    try:
        async with db.unit_of_work() as uow:
            await uow.security.put_consents(CONSENTS)
        async with db.unit_of_work(write=False) as uow:
            everyone = await uow.security.withdrawn_patients()
            some = await uow.security.withdrawn_patients(["withdrew", "regranted", "granted"])
            nobody = await uow.security.withdrawn_patients([])
        assert everyone == {"withdrew", "withdrew-twice", "tie", "old-grant-later-withdrawal"}
        assert some == {"withdrew"}
        assert nobody == set()
        # the lean path (PostgreSQL: its own statement on the read pool) agrees
        asked = ["withdrew", "regranted", "granted", "tie", "inactive-withdrawal", "unknown"]
        assert await db.withdrawn_among(asked) == {"withdrew", "tie"}
        assert await db.withdrawn_among([]) == set()
    finally:
        await db.close()
