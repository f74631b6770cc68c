"""Demo clients for a newcomer's first run: one per role, private keys in a local folder;
the console app and one demo user per role, whose passwords the README gives (demo only)."""

from __future__ import annotations

import logging
from pathlib import Path

from eolc_fhir.config import Settings
from eolc_fhir.security.client_side import (
    new_private_key,
    public_jwks,
    read_key_file,
    write_key_file,
)
from eolc_fhir.security.clients import new_client
from eolc_fhir.security.roles import default_scopes
from eolc_fhir.security.users import new_user
from eolc_fhir.storage.database import Database

__all__ = ["ensure_demo_clients", "ensure_demo_people", "DEMO_CLIENTS", "CONSOLE_CLIENT",
           "demo_password"]

log = logging.getLogger("eolc_fhir.security")

# (client_id, role, ODS code, name): synthetic organisations of the demo region.
DEMO_CLIENTS = (
    ("demo-gp", "gp", "Y01234", "Demo GP practice"),
    ("demo-hospital", "hospital", "RH801", "Demo hospital"),
    ("demo-hospice", "hospice", "HSP01", "Demo hospice"),
    ("demo-ambulance", "ambulance", "RYC01", "Demo ambulance service"),
    ("demo-care-home", "care-home", "VM1AB", "Demo care home"),
    ("demo-coordination-centre", "coordination-centre", "CC001", "Demo coordination centre"),
    ("demo-commissioner", "commissioner", "CCG01", "Demo commissioner"),
    ("demo-admin", "admin", "EOLC1", "Demo administrator"),
)


async def ensure_demo_clients(settings: Settings, db: Database) -> list[str]:
    """Register any demo client that is missing (or whose key file is gone); say how to log in."""
    folder = Path(settings.demo_keys_dir)
    made = []
    async with db.unit_of_work(write=True) as uow:
        repo = uow.security
        for client_id, role, ods, name in DEMO_CLIENTS:
            path = folder / f"{client_id}.jwk.json"
            existing = await repo.get_client(client_id)
            if existing is not None and path.exists() and _same_key(path, existing.jwks):
                continue
            key = new_private_key()
            if existing is not None:
                await repo.remove_client(client_id)
            await repo.add_client(new_client(client_id=client_id, name=name, ods=ods, role=role,
                                             scopes=None, jwks=public_jwks(key), jwks_uri=None))
            write_key_file(path, key)
            made.append(client_id)
    _announce(folder, settings)
    return made


def _same_key(path: Path, jwks: str | None) -> bool:
    try:
        kid = read_key_file(path).kid
        return jwks is not None and kid is not None and kid in jwks
    except (OSError, ValueError):
        return False


def _announce(folder: Path, settings: Settings) -> None:
    base = settings.base_url or f"http://{settings.host}:{settings.port}"
    log.warning(
        "demo clients (one per role) have private keys in %s/. Get a token with:\n"
        "  TOKEN=$(.venv/bin/eolc-fhir token --client-id demo-gp --key-file "
        "%s/demo-gp.jwk.json --scope '%s' --url %s)\n"
        "  curl -H \"Authorization: Bearer $TOKEN\" %s/Patient\n"
        "other clients: %s", folder, folder, default_scopes("gp"), base, base,
        ", ".join(c[0] for c in DEMO_CLIENTS[1:]),
    )


CONSOLE_CLIENT = "eolc-console"
CONSOLE_CALLBACK = "/console/callback"


def demo_password(username: str) -> str:
    """The demo users' passwords are public (README): never run the demo on real data."""
    return f"{username}-password"


def _console_redirects(settings: Settings) -> list[str]:
    if settings.base_url:
        return [settings.base_url.rstrip("/") + CONSOLE_CALLBACK]
    return [f"http://{host}:{settings.port}{CONSOLE_CALLBACK}"
            for host in dict.fromkeys((settings.host, "127.0.0.1", "localhost"))]


async def ensure_demo_people(settings: Settings, db: Database) -> list[str]:
    """Register the console app (public, PKCE) and add any missing demo user, one per role
    (``demo-user-<role>``, at the role's demo organisation). Returns the users added."""
    console = new_client(client_id=CONSOLE_CLIENT, name="eolc-fhir console", ods="", role="",
                         scopes=None, jwks=None, jwks_uri=None,
                         redirect_uris=_console_redirects(settings), public=True)
    added = []
    async with db.unit_of_work(write=True) as uow:
        existing = await uow.security.get_client(CONSOLE_CLIENT)
        if existing is None or existing.redirect_uris != console.redirect_uris:
            await uow.security.remove_client(CONSOLE_CLIENT)
            await uow.security.add_client(console)
        for _, role, ods, _ in DEMO_CLIENTS:
            username = f"demo-user-{role}"
            if await uow.people.get_user(username) is None:
                await uow.people.add_user(new_user(username=username, role=role, ods=ods,
                                                   password=demo_password(username),
                                                   public_password=True))
                added.append(username)
    if added:
        log.warning("demo users (one per role; password: <username>-password, README) "
                    "sign in to %s: %s", CONSOLE_CLIENT, ", ".join(added))
    return added
