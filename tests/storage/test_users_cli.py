"""``eolc-fhir users add|list|disable|enable`` and ``clients add --public`` on a database."""

from __future__ import annotations

import asyncio
import io

import pytest

from eolc_fhir.cli import main
from eolc_fhir.config import Settings
from eolc_fhir.security.users import SignInRefused, sign_in
from eolc_fhir.storage.database import Database

pytestmark = pytest.mark.engines("sqlite")


def _sign_in(url: str, username: str, password: str) -> str:
    async def run() -> str:
        db = Database(url)
        try:
            return (await sign_in(db, Settings(database_url=url), username, password)).role
        finally:
            await db.close()

    return asyncio.run(run())


def test_users_are_added_listed_disabled_and_enabled(
        migrated_url: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    db = ["--database-url", migrated_url]
    add = ["users", "add", "--username", "j.smith", "--role", "coordination-centre",
           "--ods", "CC001", "--sds-user-id", "123456789012"]
    assert main([*add, *db]) == 2  # no --password-stdin: never a password argument
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main([*add, "--password-stdin", *db]) == 2
    assert "at least 10" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough secret\n"))
    assert main([*add, "--password-stdin", *db]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough secret\n"))
    assert main([*add, "--password-stdin", *db]) == 1  # taken
    assert _sign_in(migrated_url, "j.smith", "a long enough secret") == "coordination-centre"
    capsys.readouterr()
    assert main(["users", "list", *db]) == 0
    listed = capsys.readouterr().out
    assert "j.smith\tcoordination-centre\tCC001\t123456789012\tactive" in listed
    assert "secret" not in listed and "argon2" not in listed
    assert main(["users", "disable", "j.smith", *db]) == 0
    with pytest.raises(SignInRefused):
        _sign_in(migrated_url, "j.smith", "a long enough secret")
    assert main(["users", "enable", "j.smith", *db]) == 0
    assert _sign_in(migrated_url, "j.smith", "a long enough secret") == "coordination-centre"
    assert main(["users", "disable", "nobody", *db]) == 1


def test_a_public_app_is_registered_with_its_redirect_uris(
        migrated_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--database-url", migrated_url]
    base = ["clients", "add", "--client-id", "crew-app", "--name", "Crew app", "--public"]
    assert main([*base, *db]) == 2  # a public app needs a redirect URI
    assert main([*base, "--redirect-uri", "http://crew.example.org/cb", *db]) == 2  # not https
    assert main([*base, "--redirect-uri", "https://crew.example.org/cb", *db]) == 0
    capsys.readouterr()
    assert main(["clients", "list", *db]) == 0
    listed = capsys.readouterr().out
    assert "crew-app" in listed and "public" in listed and "https://crew.example.org/cb" in listed
    assert "user/*.cruds" in listed


def test_the_demo_registers_the_console_and_one_user_per_role(migrated_url: str) -> None:
    from eolc_fhir.security.demo import CONSOLE_CLIENT, DEMO_CLIENTS, ensure_demo_people

    settings = Settings(database_url=migrated_url, port=8080)

    async def run() -> tuple[list[str], list[str], object]:
        db = Database(migrated_url)
        try:
            first = await ensure_demo_people(settings, db)
            again = await ensure_demo_people(settings, db)
            async with db.unit_of_work(write=False) as uow:
                console = await uow.security.get_client(CONSOLE_CLIENT)
            return first, again, console
        finally:
            await db.close()

    first, again, console = asyncio.run(run())
    assert sorted(first) == sorted(f"demo-user-{role}" for _, role, _, _ in DEMO_CLIENTS)
    assert again == []
    assert console.public and "http://127.0.0.1:8080/console/callback" in console.redirects  # type: ignore[attr-defined]
    assert _sign_in(migrated_url, "demo-user-gp", "demo-user-gp-password") == "gp"
