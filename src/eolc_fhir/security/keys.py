"""The server's own signing keys: made on first start, kept in the database, rotatable.

The newest key signs access tokens; every kept key verifies them, so tokens
signed just before a rotation stay valid until they expire.
"""

from __future__ import annotations

import json
import uuid

from joserfc import jwk

from eolc_fhir.fhir.instant import now_us
from eolc_fhir.storage.database import Database
from eolc_fhir.storage.security_repo import KeyRecord

__all__ = ["SigningKeys", "load_keys", "rotate_keys", "KEY_ALGORITHM"]

KEY_ALGORITHM = "RS384"  # RSA verifies in about half the time of ECDSA (docs/performance.md)
_KEEP = 2  # the current key and the one before it


class SigningKeys:
    """The keys as loaded: one to sign with, a key set to verify with."""

    def __init__(self, records: list[KeyRecord]) -> None:
        if not records:
            raise ValueError("no signing keys")
        self.records = records
        self.keys = [jwk.RSAKey.import_key(json.loads(r.private_jwk)) for r in records]
        self.signing = self.keys[0]
        self.key_set = jwk.KeySet(list(self.keys))
        self.kids = {r.kid for r in records}

    def public_jwks(self) -> dict[str, object]:
        return {"keys": [{**k.as_dict(private=False), "alg": KEY_ALGORITHM, "use": "sig"}
                         for k in self.keys]}


def _new_record() -> KeyRecord:
    kid = uuid.uuid4().hex
    key = jwk.RSAKey.generate_key(2048, parameters={"kid": kid})
    return KeyRecord(kid, json.dumps(key.as_dict(private=True)), now_us(), True)


async def load_keys(db: Database, *, create: bool = True) -> SigningKeys:
    """The stored keys; a new one is generated and stored when there is none."""
    async with db.unit_of_work(write=False) as uow:
        records = await uow.security.list_keys()
    if not records and create:
        async with db.unit_of_work(write=True) as uow:
            repo = uow.security
            records = await repo.list_keys()  # another process may have just made one
            if not records:
                await repo.add_key(_new_record(), keep=_KEEP)
                records = await repo.list_keys()
    return SigningKeys(records)


async def rotate_keys(db: Database) -> str:
    """Make a new signing key; the previous one keeps verifying, older ones are dropped."""
    record = _new_record()
    async with db.unit_of_work(write=True) as uow:
        await uow.security.add_key(record, keep=_KEEP)
    return record.kid
