"""Local user accounts: new accounts, Argon2 passwords, sign-in with lockout.

Every refusal is the same ``SignInRefused`` with the same words, whether the
name is unknown, the password wrong, the account disabled or locked, and an
unknown name still costs one Argon2 verification: the answer and its timing
say nothing of which it was.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import asdict, dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from eolc_fhir.config import Settings
from eolc_fhir.fhir.instant import now_us
from eolc_fhir.security.audit import USER_SYSTEM
from eolc_fhir.security.roles import ROLES
from eolc_fhir.storage.database import Database
from eolc_fhir.storage.people_repo import PeopleRepository, UserRecord

__all__ = ["new_user", "sign_in", "SignInRefused", "UserError", "Person", "hash_password",
           "person_of", "person_json", "person_from_json", "USER_SYSTEM", "SDS_USER_SYSTEM",
           "MIN_PASSWORD", "active_person", "ODS_CODE"]

SDS_USER_SYSTEM = "https://fhir.nhs.uk/Id/sds-user-id"
MIN_PASSWORD = 10
REFUSED = "username or password not accepted"
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
ODS_CODE = re.compile(r"^[A-Z0-9]{3,10}$")
_SDS = re.compile(r"^[0-9]{6,20}$")
_HASHER = PasswordHasher()  # argon2id, the library's (RFC 9106) defaults
# Verified against when the name is unknown, so that it takes as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("not a password of anyone")
# The demo users' passwords are printed in the README: a costly hash would protect nothing
# and cost every demo start ~0.1-0.5 s per user.
_PUBLIC_PASSWORD_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class UserError(ValueError):
    """An account that cannot be made as asked."""


class SignInRefused(Exception):
    """Sign-in not accepted; the message never says why."""

    def __init__(self) -> None:
        super().__init__(REFUSED)


@dataclass(frozen=True)
class Person:
    """Who signed in: what their tokens and audit records carry."""

    username: str
    role: str
    ods: str
    sds_user_id: str | None
    local: bool = True  # a local account (else signed in at the external provider)
    external_fhir_user: str | None = None  # the provider's fhirUser claim, if it sent one

    def fhir_user(self, base: str) -> str:
        """The fhirUser claim: the person as a Practitioner, found by identifier."""
        if self.external_fhir_user:
            return self.external_fhir_user
        system, value = ((SDS_USER_SYSTEM, self.sds_user_id) if self.sds_user_id
                         else (USER_SYSTEM, self.username))
        return f"{base}/Practitioner?identifier={system}|{value}"


def person_json(person: Person) -> str:
    return json.dumps(asdict(person))


def person_from_json(text: str) -> Person:
    return Person(**json.loads(text))


def person_of(user: UserRecord) -> Person:
    return Person(user.username, user.role, user.ods, user.sds_user_id)


def hash_password(password: str, *, public: bool = False) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must have at least {MIN_PASSWORD} characters")
    return (_PUBLIC_PASSWORD_HASHER if public else _HASHER).hash(password)


def new_user(*, username: str, role: str, ods: str, password: str,
             sds_user_id: str | None = None, public_password: bool = False) -> UserRecord:
    """A checked account, ready to store; UserError says what is wrong."""
    if not _USERNAME.match(username):
        raise UserError("username: 1-64 letters, digits, '.', '_', '@' or '-'")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(sorted(ROLES))}")
    if not ODS_CODE.match(ods):
        raise UserError(f"'{ods}' is not an ODS code")
    if sds_user_id is not None and not _SDS.match(sds_user_id):
        raise UserError("the SDS user id is digits only")
    return UserRecord(username, role, ods, sds_user_id,
                      hash_password(password, public=public_password), False, 0, 0, now_us())


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def active_person(db: Database, person_text: str) -> Person | None:
    """The person of a session, if still allowed in: a local account is read again."""
    try:
        person = person_from_json(person_text)
    except (ValueError, TypeError):
        return None
    if not person.local:
        return person
    async with db.unit_of_work(write=False) as uow:
        user = await uow.people.get_user(person.username)
    return person_of(user) if user is not None and not user.disabled else None


async def sign_in(db: Database, settings: Settings, username: str, password: str) -> Person:
    """The person whose password this is, or SignInRefused (counting a failure)."""
    async with db.unit_of_work(write=False) as uow:
        user = await uow.people.get_user(username) if _USERNAME.match(username) else None
    # Argon2 takes tens of milliseconds: off the event loop.
    matches = await asyncio.to_thread(_verify, user.password_hash if user else _DUMMY_HASH,
                                      password)
    if user is None:
        raise SignInRefused()
    now = now_us()
    if user.disabled or user.locked_until_us > now:
        raise SignInRefused()
    async with db.unit_of_work(write=True) as uow:
        if matches:
            if user.failed_attempts:
                await uow.people.set_user(username, failed_attempts=0)
            return person_of(user)
        await _count_failure(uow.people, user, settings, now)
    raise SignInRefused()


async def _count_failure(repo: PeopleRepository, user: UserRecord, settings: Settings,
                         now: int) -> None:
    failures = await repo.add_failure(user.username)  # atomic: concurrent guesses all count
    if failures >= settings.signin_max_failures:
        await repo.set_user(user.username, failed_attempts=0,
                            locked_until_us=now + settings.signin_lockout_seconds * 1_000_000)
