"""Build and tear down the long-lived parts of a running server."""

from __future__ import annotations

import logging

from eolc_fhir.config import Settings
from eolc_fhir.fhir import models
from eolc_fhir.search import SearchRegistry
from eolc_fhir.services import conformance, security_hooks
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.subscriptions import lifecycle, live, ownership
from eolc_fhir.storage import migrate
from eolc_fhir.storage.database import Database
from eolc_fhir.validation import ProfileSet

__all__ = ["build_context", "close_context"]

log = logging.getLogger("eolc_fhir")


def _install_operations(ctx: ServerContext) -> None:
    from eolc_fhir.services.measures import evaluate as measures  # Measure/$evaluate-measure
    from eolc_fhir.services.wishes import document as wishes  # Patient/$wishes and $everything

    wishes.install(ctx)
    measures.install(ctx)


async def build_context(settings: Settings) -> ServerContext:
    db = Database(settings.database_url, pool_size=settings.db_pool_size,
                  read_pool_size=settings.db_read_pool_size,
                  busy_timeout=settings.db_busy_timeout_seconds,
                  connect_timeout=settings.db_connect_timeout_seconds,
                  read_cache_bytes=settings.read_cache_mb * 1024 * 1024)
    try:
        return await _build(settings, db)
    except BaseException:
        await db.close()
        raise


async def _build(settings: Settings, db: Database) -> ServerContext:
    if not any(settings.profiles_dir.glob("StructureDefinition-*.json")):
        # Without its profiles the server would store palliative resources unchecked.
        raise RuntimeError(f"no profiles found in {settings.profiles_dir}: "
                           "set EOLC_PROFILES_DIR to the profiles folder")
    if settings.run_migrations:
        await migrate.upgrade(db)
    ctx = ServerContext(settings=settings, db=db)
    ctx.search = SearchRegistry.load(settings.profiles_dir)
    ctx.validator = ProfileSet.load(settings.profiles_dir)
    ctx.search.codes = ctx.validator.terminology  # :in, :not-in, :below, :above
    # A write imports its type's model on first use (a fraction of a second): done here for
    # the types the profiles cover, not inside a first write (a dispatcher's first status
    # write once held its lease that long, and another dispatcher delivered the same events).
    models.preload(ctx.validator.profile(url).type for url in ctx.validator.profile_urls)
    _install_operations(ctx)
    # Processes starting at once (`serve --workers N`, replicas on other hosts) take turns
    # here: the first publishes the profiles, makes the signing key and demo clients and
    # switches ownerless Subscriptions off; the others find it done (PostgreSQL lock).
    async with db.startup_lock():
        current = await migrate.is_current(db)
        if current:
            await conformance.publish(ctx)
        else:  # /readyz says so; nothing can be stored before `eolc-fhir migrate`
            log.warning("database schema is not current: run `eolc-fhir migrate`")
        _install_subscriptions(ctx)
        await security_hooks.install(ctx)  # tokens, audit, provenance (off with --insecure-dev)
        if current:  # Subscriptions stored before secrets were write-only
            await lifecycle.mask_stored_secrets(ctx)
        if settings.insecure_dev:
            log.warning("INSECURE DEV MODE: authentication is OFF; never use with real data")
        elif current:  # before the dispatcher's first delivery
            await ownership.switch_off_ownerless(ctx)
    await _start_dispatcher(ctx)
    _start_exports(ctx)
    return ctx


def _install_subscriptions(ctx: ServerContext) -> None:
    """Topics and the outbox write hook, always."""
    from eolc_fhir.services.subscriptions import outbox as subscriptions

    subscriptions.install(ctx)


async def _start_dispatcher(ctx: ServerContext) -> None:
    """The subscription dispatcher, unless told not to."""
    if ctx.settings.run_dispatcher:
        from eolc_fhir.services.subscriptions.dispatcher import Dispatcher

        dispatcher = Dispatcher(ctx)
        await dispatcher.start()
        ctx.dispatcher = dispatcher


def _start_exports(ctx: ServerContext) -> None:
    """The bulk export runner ($export jobs), unless told not to."""
    from eolc_fhir.services.export import capability
    from eolc_fhir.services.export.runner import ExportRunner

    capability.install(ctx)
    if ctx.settings.run_exports:
        runner = ExportRunner(ctx)
        runner.start()
        ctx.exports = runner


async def close_context(ctx: ServerContext) -> None:
    exports, ctx.exports = ctx.exports, None
    if exports is not None:
        await exports.stop()
    dispatcher, ctx.dispatcher = ctx.dispatcher, None
    if dispatcher is not None:
        await dispatcher.stop()
    await live.stop_hub(ctx)  # bound websockets are told the server is stopping
    groups, ctx.create_groups = ctx.create_groups, None
    if groups is not None:
        await groups.stop()
    await security_hooks.uninstall(ctx)  # writes the last queued read audits
    await ctx.db.close()

