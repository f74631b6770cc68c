"""The narrow door to the security tables; reads and writes in the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from sqlalchemy import Select, delete, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from eolc_fhir.storage import security_tables as st
from eolc_fhir.storage import tables as t
from eolc_fhir.storage.model import ids_by_type

__all__ = ["ClientRecord", "KeyRecord", "Origin", "SecurityRepository", "ODS_SYSTEM",
           "withdrawn_query"]

ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
_GP = "general-practitioner"

@dataclass(frozen=True)
class ClientRecord:
    """A registered client system, as stored."""

    client_id: str
    name: str
    ods: str
    role: str
    scopes: str
    jwks: str | None
    jwks_uri: str | None
    created_us: int
    rate_limit: int | None = None  # requests per minute; None: the default; 0: unlimited
    redirect_uris: str | None = None  # space-separated: an app that signs people in
    public: bool = False  # no keys: the authorization code flow with PKCE only

    @property
    def redirects(self) -> list[str]:
        return (self.redirect_uris or "").split()


@dataclass(frozen=True)
class KeyRecord:
    kid: str
    private_jwk: str
    created_us: int
    active: bool


@dataclass(frozen=True)
class Origin:
    """Who recorded a resource, and whose record it belongs to."""

    client_id: str | None
    ods: str | None
    patient_id: str | None
    user_id: str | None = None  # the signed-in person, when a person's token recorded it


class SecurityRepository:
    """Never commits: the caller's unit of work does."""

    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    # -- clients ---------------------------------------------------------------------
    async def add_client(self, client: ClientRecord) -> bool:
        """False when the client_id is taken."""
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(insert(st.security_clients).values(asdict(client)))
        except IntegrityError:
            return False
        return True

    async def get_client(self, client_id: str) -> ClientRecord | None:
        c = st.security_clients
        row = (await self.conn.execute(select(c).where(c.c.client_id == client_id))).first()
        return ClientRecord(**row._mapping) if row is not None else None

    async def list_clients(self) -> list[ClientRecord]:
        c = st.security_clients
        rows = await self.conn.execute(select(c).order_by(c.c.client_id))
        return [ClientRecord(**row._mapping) for row in rows]

    async def set_rate_limit(self, client_id: str, per_minute: int | None) -> bool:
        """False when there is no such client."""
        c = st.security_clients
        result = await self.conn.execute(
            update(c).where(c.c.client_id == client_id).values(rate_limit=per_minute))
        return bool(result.rowcount)

    async def rate_limit(self, client_id: str) -> tuple[bool, int | None]:
        """(the client exists, its own limit or None)."""
        c = st.security_clients
        row = (await self.conn.execute(
            select(c.c.rate_limit).where(c.c.client_id == client_id))).first()
        return (False, None) if row is None else (True, row[0])

    async def add_to_rate_windows(self, counts: dict[str, int], watched: Iterable[str],
                                  slot: int, slots: int) -> dict[str, int]:
        """Add this process's ``counts`` to the clients' current ``slot`` (one upsert) and
        return each watched client's total over the last ``slots`` slots (PostgreSQL)."""
        w = st.security_rate_windows
        if counts:
            stmt = pg_insert(w).values([{"client_id": k, "slot": slot, "n": n}
                                        for k, n in sorted(counts.items())])
            await self.conn.execute(stmt.on_conflict_do_update(
                index_elements=[w.c.client_id, w.c.slot], set_={"n": w.c.n + stmt.excluded.n}))
        keys = sorted(set(watched) | set(counts))
        if not keys:
            return {}
        rows = await self.conn.execute(
            select(w.c.client_id, func.sum(w.c.n)).where(w.c.client_id.in_(keys),
                                                         w.c.slot > slot - slots)
            .group_by(w.c.client_id))
        return {key: int(total) for key, total in rows}

    async def forget_rate_windows(self, before_slot: int) -> None:
        w = st.security_rate_windows
        await self.conn.execute(delete(w).where(w.c.slot < before_slot))

    async def remove_client(self, client_id: str) -> bool:
        c = st.security_clients
        result = await self.conn.execute(delete(c).where(c.c.client_id == client_id))
        return bool(result.rowcount)

    # -- assertion ids (replay protection) -------------------------------------------
    async def use_jti(self, client_id: str, jti: str, expires_us: int, now_us: int) -> bool:
        """Record a jti; False when it was seen before (a replay)."""
        j = st.security_jti
        await self.conn.execute(delete(j).where(j.c.expires_us < now_us))
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(
                    insert(j).values(client_id=client_id, jti=jti, expires_us=expires_us)
                )
        except IntegrityError:
            return False
        return True

    # -- server signing keys -----------------------------------------------------------
    async def list_keys(self) -> list[KeyRecord]:
        k = st.security_keys
        rows = await self.conn.execute(select(k).order_by(k.c.created_us.desc()))
        return [KeyRecord(**row._mapping) for row in rows]

    async def add_key(self, key: KeyRecord, *, keep: int) -> None:
        """Store a new signing key; keys beyond the newest ``keep`` stop verifying."""
        k = st.security_keys
        await self.conn.execute(insert(k).values(asdict(key)))
        stale = [r.kid for r in (await self.list_keys())[keep:]]
        if stale:
            await self.conn.execute(delete(k).where(k.c.kid.in_(stale)))

    # -- origin of resources -------------------------------------------------------------
    async def record_origin(self, rtype: str, rid: str, origin: Origin, *, created: bool,
                            first_version: bool = False) -> None:
        """On create remember who recorded it; on update only the patient may change."""
        o = st.security_origin
        key = (o.c.res_type == rtype, o.c.res_id == rid)
        if not created:
            result = await self.conn.execute(
                update(o).where(*key).values(patient_id=origin.patient_id)
            )
            if result.rowcount:
                return
        if not first_version:  # brought back after a delete: the old row may remain
            await self.conn.execute(delete(o).where(*key))
        await self.conn.execute(insert(o).values(res_type=rtype, res_id=rid, **asdict(origin)))

    async def insert_origins(self, rows: Sequence[tuple[str, str, Origin]]) -> None:
        """``record_origin(..., created=True, first_version=True)`` for many new resources."""
        if rows:
            await self.conn.execute(insert(st.security_origin), [
                {"res_type": rtype, "res_id": rid, "client_id": origin.client_id,
                 "ods": origin.ods, "patient_id": origin.patient_id,
                 "user_id": origin.user_id}
                for rtype, rid, origin in rows])

    async def origins(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Origin]:
        if not keys:
            return {}
        o = st.security_origin
        found: dict[tuple[str, str], Origin] = {}
        for rtype, ids in ids_by_type(keys).items():
            stmt = select(o).where(o.c.res_type == rtype, o.c.res_id.in_(ids))
            found.update({(r.res_type, r.res_id): Origin(r.client_id, r.ods, r.patient_id,
                                                                 r.user_id)
                          for r in await self.conn.execute(stmt)})
        return found

    async def owned_ids(self, client_id: str, rtype: str,
                        user_id: str | None = None) -> list[str]:
        """Ids of ``rtype`` recorded by the client (and its person, or no person)."""
        o = st.security_origin
        person = o.c.user_id.is_(None) if user_id is None else o.c.user_id == user_id
        stmt = select(o.c.res_id).where(o.c.client_id == client_id, o.c.res_type == rtype,
                                        person)
        return sorted(row[0] for row in await self.conn.execute(stmt))

    # -- consent to share ------------------------------------------------------------------
    async def put_consent(self, consent_id: str, patient_id: str | None, *, active: bool,
                          withdrawn: bool, recorded_us: int) -> None:
        c = st.security_consent
        await self.conn.execute(delete(c).where(c.c.consent_id == consent_id))
        if patient_id is not None:
            await self.conn.execute(insert(c).values(
                consent_id=consent_id, patient_id=patient_id, active=active,
                withdrawn=withdrawn, recorded_us=recorded_us,
            ))

    async def put_consents(self, rows: Sequence[tuple[str, str | None, bool, bool, int]]) -> None:
        """``put_consent`` for many (consent_id, patient_id, active, withdrawn, recorded_us)
        with distinct ids: one delete, one multi-row insert."""
        c = st.security_consent
        await self.conn.execute(delete(c).where(c.c.consent_id.in_([r[0] for r in rows])))
        values = [{"consent_id": cid, "patient_id": patient, "active": active,
                   "withdrawn": withdrawn, "recorded_us": recorded}
                  for cid, patient, active, withdrawn, recorded in rows if patient is not None]
        if values:
            await self.conn.execute(insert(c), values)

    async def withdrawn_patients(self, patient_ids: Iterable[str] | None = None) -> set[str]:
        """Patients whose latest active consent-to-share is a withdrawal (``withdrawn_query``)."""
        found = await self.conn.execute(withdrawn_query(patient_ids))
        return {str(pid) for pid in found.scalars()}

    # -- registered GP practice --------------------------------------------------------
    async def practices_of(self, patient_ids: Sequence[str]) -> dict[str, set[str]]:
        """The ODS codes of each patient's registered GP practice, from the index alone:
        ``Patient.generalPractitioner`` referring to an Organization with that ODS code
        (a logical reference by ODS code alone does not count: searches could not
        follow it fast). Patients with none are absent."""
        ids = sorted(set(patient_ids))
        if not ids:
            return {}
        x, org = t.idx_reference.alias("x"), t.idx_token.alias("o")
        # ``param || ''``: SQLite keeps to the (res_type, res_id) index, which finds the
        # few rows at once, instead of walking every row of the parameter.
        stmt = select(x.c.res_id, org.c.code).join(org, (
            org.c.res_type == literal("Organization")) & (org.c.res_id == x.c.target_id) & (
            org.c.param == "identifier") & (org.c.system == ODS_SYSTEM)).where(
            x.c.res_type == "Patient", x.c.res_id.in_(ids), x.c.param.concat("") == _GP,
            x.c.target_type == "Organization")
        found: dict[str, set[str]] = {}
        for patient, code in await self.conn.execute(stmt):
            if code:
                found.setdefault(patient, set()).add(str(code))
        return found


def withdrawn_query(patient_ids: Iterable[str] | None = None) -> Select[tuple[str]]:
    """Patients whose latest active consent-to-share is a withdrawal (of these, if given).

    Decided in the database: only the (few) withdrawn come back, never a row per
    person on the register (100,000 rows every refresh cost the event loop 0.1 s and
    the process its memory). A grant recorded at the same instant as a withdrawal
    does not outrank it."""
    c = st.security_consent
    later = st.security_consent.alias("later")
    newer_grant = select(later.c.consent_id).where(
        later.c.patient_id == c.c.patient_id, later.c.active.is_(True),
        later.c.withdrawn.is_(False), later.c.recorded_us > c.c.recorded_us)
    stmt = select(c.c.patient_id).distinct().where(
        c.c.active.is_(True), c.c.withdrawn.is_(True), ~newer_grant.exists())
    if patient_ids is not None:
        stmt = stmt.where(c.c.patient_id.in_(list(patient_ids)))
    return stmt
