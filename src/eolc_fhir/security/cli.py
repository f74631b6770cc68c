"""``eolc-fhir clients add|list|remove|set-rate-limit``, ``keys rotate|generate``, ``token``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from eolc_fhir.config import Settings
from eolc_fhir.security.clients import CLIENT_ALGORITHMS, ClientError, new_client
from eolc_fhir.security.keys import rotate_keys
from eolc_fhir.security.roles import ROLES
from eolc_fhir.storage import migrate
from eolc_fhir.storage.database import Database

__all__ = ["register_commands", "with_db"]

Handler = Callable[[argparse.Namespace], int]
T = TypeVar("T")


def _settings(args: argparse.Namespace) -> Settings:
    url = getattr(args, "database_url", None)
    return Settings(database_url=url) if url else Settings()


def with_db(args: argparse.Namespace, work: Callable[[Database], Awaitable[T]]) -> T:
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
        record = new_client(client_id=args.client_id, name=args.name, ods=args.ods or "",
                            role=args.role or "",
                            scopes=" ".join(args.scope) if args.scope else None,
                            jwks=jwks, jwks_uri=args.jwks_uri, rate_limit=args.rate_limit,
                            redirect_uris=args.redirect_uri, public=args.public)
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def work(db: Database) -> bool:
        async with db.unit_of_work(write=True) as uow:
            return await uow.security.add_client(record)

    if not with_db(args, work):
        print(f"error: client '{args.client_id}' already exists", file=sys.stderr)
        return 1
    print(f"registered {record.client_id} ({record.role or '-'}, {record.ods or '-'}) scopes: "
          f"{record.scopes} rate limit: {_limit_text(record.rate_limit)}"
          + (f" redirect URIs: {record.redirect_uris}" if record.redirect_uris else ""))
    return 0


def _limit_text(per_minute: int | None) -> str:
    if per_minute is None:
        return "default"
    return "none" if per_minute == 0 else f"{per_minute}/min"


def _list(args: argparse.Namespace) -> int:
    async def work(db: Database) -> list[Any]:
        async with db.unit_of_work(write=False) as uow:
            return await uow.security.list_clients()

    for c in with_db(args, work):
        keys = "jwks_uri " + c.jwks_uri if c.jwks_uri else "public" if c.public else "jwks"
        print(f"{c.client_id}\t{c.role or '-'}\t{c.ods or '-'}\t{c.name}\t{c.scopes}\t{keys}\t"
              f"rate limit {_limit_text(c.rate_limit)}"
              + (f"\tredirect {c.redirect_uris}" if c.redirect_uris else ""))
    return 0


def _set_rate_limit(args: argparse.Namespace) -> int:
    text = args.rate_limit
    limit = None if text == "default" else int(text) if text.isdigit() else -1
    if limit is not None and limit < 0:
        print("error: the rate limit is requests per minute, 0 for none", file=sys.stderr)
        return 2

    async def work(db: Database) -> bool:
        async with db.unit_of_work(write=True) as uow:
            return await uow.security.set_rate_limit(args.client_id, limit)

    if not with_db(args, work):
        print(f"error: no client '{args.client_id}'", file=sys.stderr)
        return 1
    print(f"{args.client_id} rate limit: {_limit_text(limit)} (running servers apply it "
          "within 30 seconds)")
    return 0


def _remove(args: argparse.Namespace) -> int:
    async def work(db: Database) -> bool:
        async with db.unit_of_work(write=True) as uow:
            return await uow.security.remove_client(args.client_id)

    if not with_db(args, work):
        print(f"error: no client '{args.client_id}'", file=sys.stderr)
        return 1
    print(f"removed {args.client_id} (tokens already issued expire within their lifetime)")
    return 0


def _clients(args: argparse.Namespace) -> int:
    handlers: dict[str, Handler] = {"add": _add, "list": _list, "remove": _remove,
                                    "set-rate-limit": _set_rate_limit}
    return handlers[args.clients_command](args)


def _keys(args: argparse.Namespace) -> int:
    if args.keys_command == "generate":
        return _generate(args)
    kid = with_db(args, rotate_keys)
    print(f"new signing key {kid}; running servers pick it up on their next start "
          "(tokens signed with the previous key stay valid until they expire)")
    return 0


def _create_new(path: Path, data: bytes, mode: int) -> None:
    """Write a file that must not exist yet (O_EXCL: never replace someone's key)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _generate(args: argparse.Namespace) -> int:
    """A client system's key pair: the private key as PEM, the public key as a JWKS."""
    from eolc_fhir.security.client_side import new_private_key, public_jwks

    folder = Path(args.out_dir)
    private_path = folder / f"{args.name}.private.pem"
    jwks_path = folder / f"{args.name}.jwks.json"
    taken = [str(p) for p in ([jwks_path] if args.stdout else [private_path, jwks_path])
             if p.exists()]
    if taken:
        print(f"error: refusing to overwrite {', '.join(taken)}", file=sys.stderr)
        return 1
    key = new_private_key("RSA" if args.alg == "RS384" else "EC")
    pem = key.as_pem(private=True)
    # With --stdout the PEM is the only thing on stdout (for a pipe); the rest goes to stderr.
    say = sys.stderr if args.stdout else sys.stdout
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _create_new(jwks_path, (json.dumps(public_jwks(key), indent=2) + "\n").encode(), 0o644)
        if not args.stdout:
            _create_new(private_path, pem, 0o600)
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.stdout:
        sys.stdout.write(pem.decode())
        sys.stdout.flush()
    else:
        print(f"wrote {private_path} (private key, PEM, mode 0600: keep it secret, "
              "it never leaves the client system)", file=say)
    print(f"wrote {jwks_path} (public JWKS, {args.alg}, kid {key.kid})", file=say)
    print(f"register it: eolc-fhir clients add --client-id ID --name NAME --ods CODE "
          f"--role ROLE --jwks-file {jwks_path}", file=say)
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
    add.add_argument("--ods", help="the organisation's ODS code (a public app: optional)")
    add.add_argument("--role", choices=sorted(ROLES),
                     help="the client's role (a public app: optional, people have their own)")
    keys = add.add_mutually_exclusive_group(required=True)
    keys.add_argument("--jwks-file", help="a JWKS document with the client's public keys")
    keys.add_argument("--jwks-uri", help="where the client publishes its JWKS")
    keys.add_argument("--public", action="store_true", help="an app without keys that signs "
                      "people in (authorization code with PKCE); needs --redirect-uri")
    add.add_argument("--redirect-uri", action="append", help="where the app receives its "
                     "authorization code (repeatable; matched exactly)")
    add.add_argument("--scope", action="append",
                     help="allowed scope (repeatable); default: the role's scopes")
    add.add_argument("--rate-limit", type=int, metavar="N", help="requests per minute, shared "
                     "by all the client's users (0: none); default: EOLC_RATE_LIMIT_PER_MINUTE")
    limit = verbs.add_parser("set-rate-limit", help="change a client's requests per minute")
    limit.add_argument("--client-id", required=True)
    limit.add_argument("rate_limit", metavar="N|default",
                       help="requests per minute (0: none), or 'default' for the server's")
    remove = verbs.add_parser("remove", help="remove a client system")
    remove.add_argument("--client-id", required=True)
    for parser in (add, verbs.add_parser("list", help="list client systems"), remove, limit):
        add_db(parser)


def register_commands(sub: Any, add_db: Callable[[argparse.ArgumentParser], None]
                      ) -> dict[str, Handler]:
    _client_parsers(sub, add_db)
    keys = sub.add_parser("keys", help="the server's token signing keys; client key pairs")
    verbs = keys.add_subparsers(dest="keys_command", required=True)
    add_db(verbs.add_parser("rotate", help="make a new token signing key for this server"))
    generate = verbs.add_parser("generate", help="make a key pair for a client system: "
                                "private key (PEM) and public JWKS files")
    generate.add_argument("--alg", choices=CLIENT_ALGORITHMS[::-1], default="ES384",
                          help="signing algorithm of the client assertions (default ES384)")
    generate.add_argument("--out-dir", default=".", help="folder for the two files "
                          "(default: the current one); existing files are never replaced")
    generate.add_argument("--name", default="client", help="file name prefix, e.g. the "
                          "client id: NAME.private.pem and NAME.jwks.json (default: client)")
    generate.add_argument("--stdout", action="store_true", help="print the private key to "
                          "standard output instead of writing NAME.private.pem")
    token = sub.add_parser("token", help="get an access token (SMART Backend Services)")
    token.add_argument("--client-id", required=True)
    token.add_argument("--key-file", required=True,
                       help="the client's private key: a JWK (JSON) or PEM file")
    token.add_argument("--url", default="http://127.0.0.1:8080", help="the server's base URL")
    token.add_argument("--scope", action="append", help="scope to ask for (repeatable)")
    token.add_argument("--json", action="store_true", help="print the whole token response")
    add_db(token)  # accepted for uniformity: every subcommand takes --database-url
    return {"clients": _clients, "keys": _keys, "token": _token}
