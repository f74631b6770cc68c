"""The narrow door to user accounts and authorization codes; the caller's unit of work commits."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from eolc_fhir.storage import people_tables as pt

__all__ = ["UserRecord", "AuthCodeRecord", "PeopleRepository"]


@dataclass(frozen=True)
class UserRecord:
    """A local user account, as stored."""

    username: str
    role: str
    ods: str
    sds_user_id: str | None
    password_hash: str
    disabled: bool
    failed_attempts: int
    locked_until_us: int
    created_us: int


@dataclass(frozen=True)
class AuthCodeRecord:
    code_hash: str
    client_id: str
    username: str
    person: str  # JSON
    redirect_uri: str
    scope: str
    code_challenge: str
    nonce: str | None
    expires_us: int


class PeopleRepository:
    """Never commits: the caller's unit of work does."""

    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    async def add_user(self, user: UserRecord) -> bool:
        """False when the username is taken."""
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(insert(pt.security_users).values(asdict(user)))
        except IntegrityError:
            return False
        return True

    async def get_user(self, username: str) -> UserRecord | None:
        u = pt.security_users
        row = (await self.conn.execute(select(u).where(u.c.username == username))).first()
        return UserRecord(**row._mapping) if row is not None else None

    async def list_users(self) -> list[UserRecord]:
        u = pt.security_users
        return [UserRecord(**row._mapping)
                for row in await self.conn.execute(select(u).order_by(u.c.username))]

    async def set_user(self, username: str, **values: object) -> bool:
        """Change some columns of one account; False when there is no such account."""
        u = pt.security_users
        result = await self.conn.execute(update(u).where(u.c.username == username)
                                         .values(**values))
        return bool(result.rowcount)

    async def add_failure(self, username: str) -> int:
        """Count one more wrong password; the count now."""
        u = pt.security_users
        await self.conn.execute(update(u).where(u.c.username == username)
                                .values(failed_attempts=u.c.failed_attempts + 1))
        row = (await self.conn.execute(select(u.c.failed_attempts)
                                       .where(u.c.username == username))).first()
        return int(row[0]) if row is not None else 0

    async def add_code(self, code: AuthCodeRecord, now_us: int) -> None:
        c = pt.security_auth_codes
        await self.conn.execute(delete(c).where(c.c.expires_us < now_us))
        await self.conn.execute(insert(c).values(asdict(code)))

    async def take_code(self, code_hash: str) -> AuthCodeRecord | None:
        """The code's record, removed so that no one can redeem it again; None if unknown
        or already taken (of two concurrent redemptions only one deletes the row)."""
        c = pt.security_auth_codes
        row = (await self.conn.execute(select(c).where(c.c.code_hash == code_hash))).first()
        if row is None:
            return None
        result = await self.conn.execute(delete(c).where(c.c.code_hash == code_hash))
        return AuthCodeRecord(**row._mapping) if result.rowcount else None
