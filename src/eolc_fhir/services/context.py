"""The long-lived parts every service needs, built once by the app's lifespan."""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from eolc_fhir.config import Settings
from eolc_fhir.storage.database import Database
from eolc_fhir.storage.model import StoredResource
from eolc_fhir.storage.unit_of_work import UnitOfWork

__all__ = ["ServerContext", "Hooks", "Change", "WriteHook", "BatchWriteHook", "PrepareHook",
           "EntryGuard", "CapabilityContributor", "StatementContributor", "Stoppable"]


@dataclass(frozen=True)
class Change:
    """What a committed write changed; handed to every write hook."""

    interaction: str  # create | update | delete
    stored: StoredResource
    resource: dict[str, Any] | None  # None for a deletion
    previous: StoredResource | None


# Runs inside every write's transaction (services/resources/writes.py).
WriteHook = Callable[["ServerContext", UnitOfWork, Change], Awaitable[None]]
# The same work for several changes at once, in their order, with the same stored result
# as the WriteHook called once per change, each in its request's context (registered in
# Hooks.batch_write_hooks). The contexts: one per change when the changes come from
# different requests (a group of concurrent creates), else None (all in the current one).
BatchWriteHook = Callable[["ServerContext", UnitOfWork, Sequence[Change],
                           Sequence[contextvars.Context] | None], Awaitable[None]]
# Runs on a resource about to be stored (after validation, before its bytes are made),
# with the current version it replaces (None: a new one); it may change the resource.
# Registered per resource type (Hooks.prepare_hooks), in the writing request's context.
PrepareHook = Callable[["ServerContext", UnitOfWork, dict[str, Any], StoredResource | None],
                       Coroutine[Any, Any, None]]
# Runs before each batch or transaction entry: (ctx, uow, method, url); raises to refuse.
EntryGuard = Callable[["ServerContext", UnitOfWork, str, str], Awaitable[None]]
# Adds to one resource type's entry of the CapabilityStatement: (type, entry).
CapabilityContributor = Callable[[str, dict[str, Any]], None]
# Adds to the whole CapabilityStatement.
StatementContributor = Callable[[dict[str, Any]], None]


class Stoppable(Protocol):
    async def stop(self) -> None: ...


@dataclass
class Hooks:
    """Where the feature packages (security, subscriptions, operations) plug in at start."""

    prepare_hooks: dict[str, list[PrepareHook]] = field(default_factory=dict)
    write_hooks: list[WriteHook] = field(default_factory=list)
    batch_write_hooks: dict[WriteHook, BatchWriteHook] = field(default_factory=dict)
    entry_guards: list[EntryGuard] = field(default_factory=list)
    capability_contributors: list[CapabilityContributor] = field(default_factory=list)
    statement_contributors: list[StatementContributor] = field(default_factory=list)


@dataclass
class ServerContext:
    """Passed to every service function; api/ keeps it in ``app.state.ctx``."""

    settings: Settings
    db: Database
    # search parameter registry (eolc_fhir.search), compiled profiles (validation),
    # subscription engine, security policy: set by create_app's lifespan.
    search: Any = None
    validator: Any = None
    subscriptions: Any = None
    security: Any = None
    hooks: Hooks = field(default_factory=Hooks)
    dispatcher: Stoppable | None = None  # this process's subscription dispatcher, if it runs one
    audit_trail: Any = None  # services.audit_trail.AuditTrail, while security is on
    wishes_cache: object | None = None  # services.wishes' DocumentCache, made on first use
    exports: Any = None  # services.export.runner.ExportRunner: its wake() after a kick-off
    create_groups: Any = None  # services.resources.group_create.CreateGroups (SQLite)
