"""The one write path: validate, version, meta, store, index and notify, in one transaction.

Every create, update and delete — REST, transaction entry, demo loader, the
server's own Provenance, AuditEvent and Subscription status — goes through
``store_version`` / ``store_deletion`` (or, for many brand-new resources at
once, ``store_new_versions``) inside a unit of work, so the resource, its
history row, its index rows and whatever the write hooks append (subscription
events, audit, provenance) commit together. Both store functions admit every
resource first (admission.py: the profile validator, and what is owed of the
base stage), so nothing is stored that the validator has not passed.
"""

from __future__ import annotations

import asyncio
import contextvars
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eolc_fhir.fhir.errors import Gone, Issue, PreconditionFailed
from eolc_fhir.fhir.instant import now_us, to_instant
from eolc_fhir.fhir.parse import dump
from eolc_fhir.services.context import BatchWriteHook, Change, ServerContext, WriteHook
from eolc_fhir.services.resources.admission import Admitted, BaseCheck, admit
from eolc_fhir.storage.model import IndexRows, StoredResource
from eolc_fhir.storage.unit_of_work import UnitOfWork

__all__ = ["Change", "Written", "WriteHook", "BatchWriteHook", "store_version",
           "store_new_versions", "store_deletion", "check_if_match", "new_id", "index_rows",
           "version_of_etag"]

# Change, WriteHook and BatchWriteHook live with the hooks in services/context.py.


@dataclass(frozen=True, slots=True)
class Written:
    """A version the write path stored, and the validator's warnings (for the response)."""

    stored: StoredResource
    warnings: list[Issue]


def new_id() -> str:
    return str(uuid.uuid4())


def _timestamp(previous: StoredResource | None) -> int:
    stamp = now_us()
    if previous is not None and stamp <= previous.last_updated_us:
        stamp = previous.last_updated_us + 1  # keep lastUpdated increasing per resource
    return stamp


def index_rows(ctx: ServerContext, resource: dict[str, Any]) -> IndexRows:
    """The search index rows of one version, from the server's parameter registry."""
    rows: IndexRows = ctx.search.extract(resource)
    return rows


async def store_version(
    ctx: ServerContext,
    uow: UnitOfWork,
    resource: dict[str, Any],
    previous: StoredResource | None,
    *,
    method: str,
    base_check: BaseCheck = "full",
) -> Written:
    """Write ``resource`` as the next version after ``previous`` (None: a new resource).

    Admitted first: the profile stage always, and what ``base_check`` says is still
    owed of the base stage (admission.py); an error raises before anything is written.
    """
    warnings = admit(ctx.validator, resource, base_check=base_check).warnings
    live_previous = previous if previous is not None and not previous.deleted else None
    for prepare in ctx.hooks.prepare_hooks.get(resource["resourceType"], ()):
        await prepare(ctx, uow, resource, live_previous)
    version = previous.version + 1 if previous is not None else 1
    stored = _versioned(resource, version, _timestamp(previous), method)
    repo = uow.resources
    if previous is None:
        await repo.insert_new(stored)
    else:
        await repo.replace_current(stored, previous.version)
    await repo.replace_index(stored.resource_type, stored.id, index_rows(ctx, resource),
                             existed=previous is not None)
    interaction = "create" if live_previous is None else "update"
    change = Change(interaction, stored, resource, live_previous)
    await _run_hooks(ctx, uow, change)
    return Written(stored, warnings)


def _versioned(resource: dict[str, Any], version: int, stamp: int,
               method: str) -> StoredResource:
    """Set meta.versionId and meta.lastUpdated; the stored row of that version."""
    meta = dict(resource.get("meta") or {})
    meta["versionId"] = str(version)
    meta["lastUpdated"] = to_instant(stamp)
    resource["meta"] = meta
    return StoredResource(
        resource_type=resource["resourceType"],
        id=resource["id"],
        version=version,
        last_updated_us=stamp,
        deleted=False,
        content=dump(resource),
        method=method,
    )


async def store_new_versions(ctx: ServerContext, uow: UnitOfWork,
                             resources: Sequence[dict[str, Any] | Admitted], *, method: str,
                             index: Sequence[IndexRows] | None = None,
                             base_check: BaseCheck = "full",
                             contexts: Sequence[contextvars.Context] | None = None,
                             ) -> list[Written]:
    """``store_version(ctx, uow, r, None, method=..., base_check=...)`` for many NEW resources.

    Same rows, same order, same hook effects; the rows go in one multi-row insert
    per table, then the hooks see all the changes (batch hooks at once, others one
    by one), so a load costs a few statements per batch instead of ~10 per resource.
    Every dict is admitted first (all before anything is written); an ``Admitted``
    was admitted where it was made (the demo loader's worker processes, the audit
    flusher's slices). ``index``: the resources' ``index_rows``, when already
    extracted elsewhere; meta.versionId and meta.lastUpdated set here are not indexed.
    ``contexts``: one per resource, when they come from different requests (group_create):
    the batch hooks are told each change's context (other hooks run in it), or, when the
    contexts hold the same values (nothing in them tells the requests apart), run in it.
    """
    admitted = [r if isinstance(r, Admitted) else
                admit(ctx.validator, r, base_check=base_check) for r in resources]
    new = [a.resource for a in admitted]
    await _prepare_new(ctx, uow, new, contexts)
    stored = [_versioned(r, 1, _timestamp(None), method) for r in new]
    rows = list(index) if index is not None else [index_rows(ctx, r) for r in new]
    await uow.resources.insert_new_many(list(zip(stored, rows, strict=True)))
    changes = [Change("create", s, r, None) for s, r in zip(stored, new, strict=True)]
    if contexts is None:
        await _run_batch_hooks(ctx, uow, changes)
    elif _same_values(contexts):  # e.g. no request context at all: nothing tells them apart
        await asyncio.create_task(_run_batch_hooks(ctx, uow, changes), context=contexts[0])
    else:
        await _run_batch_hooks(ctx, uow, changes, contexts)
    return [Written(s, a.warnings) for s, a in zip(stored, admitted, strict=True)]


async def _prepare_new(ctx: ServerContext, uow: UnitOfWork, new: Sequence[dict[str, Any]],
                       contexts: Sequence[contextvars.Context] | None) -> None:
    """The prepare hooks of new resources, each in its own request's context."""
    for i, resource in enumerate(new):
        for prepare in ctx.hooks.prepare_hooks.get(resource["resourceType"], ()):
            step = prepare(ctx, uow, resource, None)
            if contexts is None:
                await step
            else:
                await asyncio.create_task(step, context=contexts[i])


def _same_values(contexts: Sequence[contextvars.Context]) -> bool:
    """True when every context holds the very same objects in the same variables."""
    first = contexts[0]
    return all(len(c) == len(first) and all(c.get(var, first) is value
                                             for var, value in first.items())
               for c in contexts[1:])


async def _run_batch_hooks(ctx: ServerContext, uow: UnitOfWork, changes: Sequence[Change],
                           contexts: Sequence[contextvars.Context] | None = None) -> None:
    """Each write hook on every change: a batch hook once (told each change's request
    context, when they differ), any other once per change, in that change's context."""
    batch_hooks: dict[WriteHook, BatchWriteHook] = ctx.hooks.batch_write_hooks
    for hook in ctx.hooks.write_hooks:
        batch = batch_hooks.get(hook)
        if batch is not None:
            await batch(ctx, uow, changes, contexts)
            continue
        for i, change in enumerate(changes):
            if contexts is None:
                await hook(ctx, uow, change)
            else:
                await asyncio.create_task(_run_hook(hook, ctx, uow, change), context=contexts[i])


async def _run_hook(hook: WriteHook, ctx: ServerContext, uow: UnitOfWork,
                    change: Change) -> None:
    await hook(ctx, uow, change)


async def store_deletion(ctx: ServerContext, uow: UnitOfWork,
                         previous: StoredResource) -> StoredResource:
    """Mark a live resource deleted: a new version with no content, no index rows."""
    stored = StoredResource(
        resource_type=previous.resource_type,
        id=previous.id,
        version=previous.version + 1,
        last_updated_us=_timestamp(previous),
        deleted=True,
        content=None,
        method="DELETE",
    )
    repo = uow.resources
    await repo.replace_current(stored, previous.version)
    await repo.replace_index(stored.resource_type, stored.id, None)
    await _run_hooks(ctx, uow, Change("delete", stored, None, previous))
    return stored


async def _run_hooks(ctx: ServerContext, uow: UnitOfWork, change: Change) -> None:
    for hook in ctx.hooks.write_hooks:
        await hook(ctx, uow, change)


def version_of_etag(etag: str) -> str:
    """'W/"3"', '"3"' and '3' all name version 3."""
    return etag.strip().removeprefix("W/").strip('"')


def check_if_match(if_match: str | None, current: StoredResource | None) -> None:
    """412 unless If-Match names the current version (W/"3", "3" or 3)."""
    if if_match is None:
        return
    wanted = version_of_etag(if_match)
    if current is None or current.deleted:
        if current is not None and current.deleted:
            raise Gone("the resource has been deleted")
        raise PreconditionFailed(f"If-Match {if_match}: the resource does not exist")
    if wanted != str(current.version):
        raise PreconditionFailed(
            f"If-Match {if_match} does not match the current version {current.version}",
            expression="meta.versionId",
        )
