"""``eolc-fhir users add|list|disable|enable``: local accounts for people's sign-in."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from eolc_fhir.security.cli import with_db
from eolc_fhir.security.roles import ROLES
from eolc_fhir.security.users import UserError, new_user
from eolc_fhir.storage.database import Database
from eolc_fhir.storage.people_repo import UserRecord

__all__ = ["register_commands"]

Handler = Callable[[argparse.Namespace], int]


def _add(args: argparse.Namespace) -> int:
    if not args.password_stdin:
        print("error: give the password on standard input with --password-stdin (never "
              "as an argument: it would be in the shell history)", file=sys.stderr)
        return 2
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        record = new_user(username=args.username, role=args.role, ods=args.ods,
                          password=password, sds_user_id=args.sds_user_id)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def work(db: Database) -> bool:
        async with db.unit_of_work(write=True) as uow:
            return await uow.people.add_user(record)

    if not with_db(args, work):
        print(f"error: user '{args.username}' already exists", file=sys.stderr)
        return 1
    print(f"added {record.username} ({record.role}, {record.ods})")
    return 0


def _state(user: UserRecord, now: int) -> str:
    if user.disabled:
        return "disabled"
    return "locked" if user.locked_until_us > now else "active"


def _list(args: argparse.Namespace) -> int:
    from eolc_fhir.fhir.instant import now_us

    async def work(db: Database) -> list[UserRecord]:
        async with db.unit_of_work(write=False) as uow:
            return await uow.people.list_users()

    now = now_us()
    for user in with_db(args, work):
        print(f"{user.username}\t{user.role}\t{user.ods}\t{user.sds_user_id or '-'}\t"
              f"{_state(user, now)}")
    return 0


def _set(args: argparse.Namespace, disabled: bool) -> int:
    async def work(db: Database) -> bool:
        async with db.unit_of_work(write=True) as uow:
            return await uow.people.set_user(args.username, disabled=disabled,
                                             failed_attempts=0, locked_until_us=0)

    if not with_db(args, work):
        print(f"error: no user '{args.username}'", file=sys.stderr)
        return 1
    print(f"{args.username} {'disabled: no new sign-in' if disabled else 'enabled'}"
          + (" (tokens already issued expire within their lifetime)" if disabled else ""))
    return 0


def _users(args: argparse.Namespace) -> int:
    handlers: dict[str, Handler] = {"add": _add, "list": _list,
                                    "disable": lambda a: _set(a, True),
                                    "enable": lambda a: _set(a, False)}
    return handlers[args.users_command](args)


def register_commands(sub: Any, add_db: Callable[[argparse.ArgumentParser], None]
                      ) -> dict[str, Handler]:
    users = sub.add_parser("users", help="local user accounts (people's sign-in)")
    verbs = users.add_subparsers(dest="users_command", required=True)
    add = verbs.add_parser("add", help="add a user account")
    add.add_argument("--username", required=True)
    add.add_argument("--role", required=True, choices=sorted(ROLES))
    add.add_argument("--ods", required=True, help="the organisation's ODS code")
    add.add_argument("--sds-user-id", help="the person's NHS SDS user id (optional)")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    disable = verbs.add_parser("disable", help="refuse the account's sign-in from now on")
    enable = verbs.add_parser("enable", help="allow sign-in again (and clear a lockout)")
    for parser in (disable, enable):
        parser.add_argument("username")
    for parser in (add, verbs.add_parser("list", help="list user accounts"), disable, enable):
        add_db(parser)
    return {"users": _users}
