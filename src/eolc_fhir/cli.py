"""The eolc-fhir command line: serve, migrate, openapi, audit purge (and feature subcommands)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence

from eolc_fhir.config import Settings, settings_environment, settings_from

__all__ = ["main", "settings_from"]

Handler = Callable[[argparse.Namespace], int]


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", help="SQLAlchemy URL (env EOLC_DATABASE_URL)")


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from eolc_fhir.app import create_app
    from eolc_fhir.logs import configure_logging, uvicorn_log_config

    settings = settings_from(args)
    if "EOLC_TUNE_GC" not in os.environ:
        settings.tune_gc = True
    configure_logging(settings.log_level)
    if settings.workers > 1:
        return _serve_workers(settings)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_level=settings.log_level, access_log=False, proxy_headers=True,
                log_config=uvicorn_log_config(settings.log_level),
                timeout_graceful_shutdown=settings.shutdown_seconds)
    return 0


def _serve_workers(settings: Settings) -> int:
    """N uvicorn processes on one port, given these settings through EOLC_* variables.
    Their starts take turns where they write (services/startup.py), so nothing runs twice."""
    import uvicorn

    from eolc_fhir.logs import uvicorn_log_config
    from eolc_fhir.storage.database import Database

    if Database.is_embedded_url(settings.database_url):
        print(f"error: --workers {settings.workers} needs PostgreSQL; SQLite keeps one "
              "process (use --workers 1)", file=sys.stderr)
        return 2
    os.environ.update(settings_environment(settings))
    uvicorn.run("eolc_fhir.app:worker_app", factory=True, workers=settings.workers,
                host=settings.host, port=settings.port, log_level=settings.log_level,
                log_config=uvicorn_log_config(settings.log_level),
                access_log=False, proxy_headers=True)
    return 0


def _dispatch(args: argparse.Namespace) -> int:
    """A subscription dispatcher on its own (several may share one PostgreSQL)."""
    from eolc_fhir.logs import configure_logging
    from eolc_fhir.services.startup import build_context, close_context
    from eolc_fhir.subscriptions.cli import until_signalled

    settings = settings_from(args).model_copy(update={"run_dispatcher": True})
    configure_logging(settings.log_level)

    async def run() -> None:
        ctx = await build_context(settings)
        try:
            print(f"dispatching for {settings.database_url} (Ctrl-C stops)", flush=True)
            await until_signalled()
        finally:
            await close_context(ctx)

    asyncio.run(run())
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from eolc_fhir.storage import migrate
    from eolc_fhir.storage.database import Database

    async def run() -> str | None:
        db = Database(settings_from(args).database_url)
        try:
            await migrate.upgrade(db)
            return await migrate.current_revision(db)
        finally:
            await db.close()

    print(f"schema at revision {asyncio.run(run())}")
    return 0


def _audit(args: argparse.Namespace) -> int:
    """``audit purge``: remove audit records older than the retention period, once."""
    from eolc_fhir.services.audit_trail import purge_expired
    from eolc_fhir.storage import migrate
    from eolc_fhir.storage.database import Database

    settings = settings_from(args)
    days = args.days if args.days is not None else settings.audit_retention_days

    async def run() -> int:
        db = Database(settings.database_url)
        try:
            await migrate.upgrade(db)
            return await purge_expired(db, days)
        finally:
            await db.close()

    removed = asyncio.run(run())
    print(f"removed {removed} audit records older than {days:g} days"
          if days > 0 else "retention is 0 (keep for ever): nothing removed")
    return 0


def _openapi(args: argparse.Namespace) -> int:
    from eolc_fhir.app import create_app

    document = create_app(settings_from(args)).openapi()
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return 0


def _parser() -> tuple[argparse.ArgumentParser, dict[str, Handler]]:
    parser = argparse.ArgumentParser(prog="eolc-fhir", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the FHIR server")
    serve.add_argument("--host", help="bind address (env EOLC_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (env EOLC_PORT, default 8080)")
    serve.add_argument("--insecure-dev", action="store_true", default=None,
                       help="no authentication, for local play only (env EOLC_INSECURE_DEV)")
    serve.add_argument("--workers", type=int, help="API processes on the one port (env "
                       "EOLC_WORKERS, default 1; more than 1 needs PostgreSQL)")
    _add_db(serve)
    _add_db(sub.add_parser("migrate", help="apply database migrations"))
    _add_db(sub.add_parser("openapi", help="print the OpenAPI document"))
    dispatch = sub.add_parser("dispatch", help="deliver subscription notifications (run "
                              "`serve` with EOLC_RUN_DISPATCHER=false to use only these)")
    _add_db(dispatch)
    dispatch.add_argument("--insecure-dev", action="store_true", default=None,
                          help="allow http webhook endpoints on loopback")
    audit = sub.add_parser("audit", help="the audit log")
    purge = audit.add_subparsers(dest="audit_command", required=True).add_parser(
        "purge", help="remove audit records older than EOLC_AUDIT_RETENTION_DAYS (the "
        "server also does this every EOLC_AUDIT_PURGE_INTERVAL_SECONDS)")
    purge.add_argument("--days", type=float, help="retention in days for this run "
                       "(default: EOLC_AUDIT_RETENTION_DAYS)")
    _add_db(purge)
    handlers: dict[str, Handler] = {"serve": _serve, "migrate": _migrate, "openapi": _openapi,
                                    "dispatch": _dispatch, "audit": _audit}
    for register in _feature_commands():
        handlers.update(register(sub, _add_db))
    return parser, handlers


def _feature_commands() -> list[Callable[..., dict[str, Handler]]]:
    """Subcommands contributed by the feature packages (each has register_commands)."""
    from eolc_fhir.demo import cli as demo_cli
    from eolc_fhir.report import cli as report_cli
    from eolc_fhir.search import cli as search_cli
    from eolc_fhir.security import cli as security_cli
    from eolc_fhir.security import users_cli
    from eolc_fhir.subscriptions import cli as subscriptions_cli

    return [search_cli.register_commands, security_cli.register_commands,
            users_cli.register_commands,
            subscriptions_cli.register_commands, demo_cli.register_commands,
            report_cli.register_commands]


def main(argv: Sequence[str] | None = None) -> int:
    parser, handlers = _parser()
    args = parser.parse_args(argv)
    return handlers[args.command](args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
