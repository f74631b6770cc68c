"""``eolc-fhir clients add|list|remove``, ``eolc-fhir keys rotate`` and ``eolc-fhir token``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from eolc_fhir.config import Settings
from eolc_fhir.security.clients import ClientError, new_client
from eolc_fhir.security.keys import rotate_keys
from eolc_fhir.security.roles import ROLES
from eolc_fhir.storage import migrate
from eolc_fhir.storage.database import Database

__all__ = ["register_commands"]

Handler = Callable[[argparse.Namespace], int]
T = TypeVar("T")


def _settings(args: argparse.Namespace) -> Settings:
    url = getattr(args, "database_url", None)
    return Settings(database_url=url) if url else Settings()


def _with_db(args: argparse.Namespace, work: Callable[[Database], Awaitable[T]]) -> T:
    async def run() -> T:
        db = Database(_settings(args).database_url)
        try:
            await migrate.upgrade(db)
            return await work(db)
        finally:
            await db.close()

    return asyncio.run(run())


def _add(args: argparse.Namespace) -> int:
    jwks = json.loads(Path(args.jwks_file).read_text()) if args.jwks_file else None
    try:
        record = new_client(client_id=args.client_id, name=args.name, ods=args.ods,
                            role=args.role, scopes=" ".join(args.scope) if args.scope else None,
                            jwks=jwks, jwks_uri=args.jwks_uri)
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def work(db: Database) -> bool:
        async with db.unit_of_work(write=True) as uow:
            return await uow.security.add_client(record)

    if not _with_db(args, work):
        print(f"error: client '{args.client_id}' already exists", file=sys.stderr)
        return 1
    print(f"registered {record.client_id} ({record.role}, {record.ods}) scopes: {record.scopes}")
    return 0


def _list(args: argparse.Namespace) -> int:
    async def work(db: Database) -> list[Any]:
        async with db.unit_of_work(write=False) as uow:
            return await uow.security.list_clients()

    for c in _with_db(args, work):
        keys = "jwks_uri " + c.jwks_uri if c.jwks_uri else "jwks"
        print(f"{c.client_id}\t{c.role}\t{c.ods}\t{c.name}\t{c.scopes}\t{keys}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    async def work(db: Database) -> bool:
        async with db.unit_of_work(write=True) as uow:
            return await uow.security.remove_client(args.client_id)

    if not _with_db(args, work):
        print(f"error: no client '{args.client_id}'", file=sys.stderr)
        return 1
    print(f"removed {args.client_id} (tokens already issued expire within their lifetime)")
    return 0


def _clients(args: argparse.Namespace) -> int:
    handlers: dict[str, Handler] = {"add": _add, "list": _list, "remove": _remove}
    return handlers[args.clients_command](args)


def _keys(args: argparse.Namespace) -> int:
    kid = _with_db(args, rotate_keys)
    print(f"new signing key {kid}; running servers pick it up on their next start "
          "(tokens signed with the previous key stay valid until they expire)")
    return 0


def _token(args: argparse.Namespace) -> int:
    from eolc_fhir.security.client_side import read_key_file, request_token

    try:
        answer = request_token(args.url, args.client_id, read_key_file(Path(args.key_file)),
                               " ".join(args.scope) if args.scope else "system/*.rs")
    except (RuntimeError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(answer, indent=2) if args.json else answer["access_token"])
    return 0


def _client_parsers(sub: Any, add_db: Callable[[argparse.ArgumentParser], None]) -> None:
    clients = sub.add_parser("clients", help="register, list and remove client systems")
    verbs = clients.add_subparsers(dest="clients_command", required=True)
    add = verbs.add_parser("add", help="register a client system")
    add.add_argument("--client-id", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--ods", required=True, help="the organisation's ODS code")
    add.add_argument("--role", required=True, choices=sorted(ROLES))
    keys = add.add_mutually_exclusive_group(required=True)
    keys.add_argument("--jwks-file", help="a JWKS document with the client's public keys")
    keys.add_argument("--jwks-uri", help="where the client publishes its JWKS")
    add.add_argument("--scope", action="append",
                     help="allowed scope (repeatable); default: the role's scopes")
    remove = verbs.add_parser("remove", help="remove a client system")
    remove.add_argument("--client-id", required=True)
    for parser in (add, verbs.add_parser("list", help="list client systems"), remove):
        add_db(parser)


def register_commands(sub: Any, add_db: Callable[[argparse.ArgumentParser], None]
                      ) -> dict[str, Handler]:
    _client_parsers(sub, add_db)
    keys = sub.add_parser("keys", help="the server's token signing keys")
    keys.add_argument("keys_command", choices=["rotate"])
    add_db(keys)
    token = sub.add_parser("token", help="get an access token (SMART Backend Services)")
    token.add_argument("--client-id", required=True)
    token.add_argument("--key-file", required=True, help="the client's private JWK (JSON)")
    token.add_argument("--url", default="http://127.0.0.1:8080", help="the server's base URL")
    token.add_argument("--scope", action="append", help="scope to ask for (repeatable)")
    token.add_argument("--json", action="store_true", help="print the whole token response")
    add_db(token)  # accepted for uniformity: every subcommand takes --database-url
    return {"clients": _clients, "keys": _keys, "token": _token}
