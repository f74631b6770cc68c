"""What the in-process console tests share: the console app and people, and system tokens."""

from __future__ import annotations

import functools
from dataclasses import replace
from html.parser import HTMLParser

from argon2 import PasswordHasher

from eolc_fhir.security.assertion import ASSERTION_TYPE
from eolc_fhir.security.client_side import make_assertion
from eolc_fhir.security.clients import new_client
from eolc_fhir.security.demo import CONSOLE_CLIENT
from eolc_fhir.security.roles import default_scopes
from eolc_fhir.security.users import new_user
from eolc_fhir.storage.people_repo import UserRecord
from tests.security_support import FHIR, SecureApp

__all__ = ["PASSWORD", "hashed_user", "SignInForm", "add_console_and_people", "system_headers"]

PASSWORD = "correct horse battery"


@functools.cache
def hashed_user() -> UserRecord:
    """Test accounts share one cheap Argon2id hash of PASSWORD: verifying follows the
    parameters stored in the hash, and the server's own (RFC 9106 defaults) cost 0.1-0.4 s
    per sign-in on this machine. New accounts always get the server's parameters."""
    user = new_user(username="x", role="gp", ods="Y01234", password=PASSWORD)
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    return replace(user, password_hash=cheap)


class SignInForm(HTMLParser):
    """The sign-in page's form fields (hidden ones with their values), and how many scripts
    or inline event handlers it carries (it must carry none)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.scripts += tag == "script" or any(k.startswith("on") for k in found)
        if tag == "input" and found.get("name"):
            self.fields[str(found["name"])] = found.get("value") or ""


async def add_console_and_people(app: SecureApp, people: dict[str, tuple[str, str]]) -> None:
    """The registered console app, and one account per username: (role, ODS code)."""
    base = _base(app)
    async with app.ctx.db.unit_of_work(write=True) as uow:
        await uow.security.add_client(new_client(
            client_id=CONSOLE_CLIENT, name="eolc-fhir console", ods="", role="",
            scopes=None, jwks=None, jwks_uri=None,
            redirect_uris=[f"{base}/console/callback"], public=True))
        for username, (role, ods) in people.items():
            await uow.people.add_user(replace(hashed_user(), username=username, role=role,
                                              ods=ods))


async def system_headers(app: SecureApp, client_id: str, role: str) -> dict[str, str]:
    """A system client's token for ``role`` (registered on first use), its assertion
    addressed to this base URL's token endpoint."""
    if client_id not in app.keys:
        await app.register(client_id, role)
    form = {"grant_type": "client_credentials", "scope": default_scopes(role),
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": make_assertion(client_id, app.keys[client_id],
                                               f"{_base(app)}/auth/token")}
    answer = await app.http.post("/auth/token", data=form)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}", "Content-Type": FHIR}


def _base(app: SecureApp) -> str:
    """The server's own base URL (its token endpoint's audience, the console's callback)."""
    return str(app.ctx.settings.base_url).rstrip("/")
