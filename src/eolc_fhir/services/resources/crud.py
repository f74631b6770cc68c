"""create, read, vread, update, delete and their conditional forms."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from eolc_fhir.fhir.errors import Gone, InvalidRequest, NotFound, PreconditionFailed
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.resources.admission import BaseCheck, admit
from eolc_fhir.services.resources.group_create import CreateGroups
from eolc_fhir.services.resources.writes import (
    check_if_match,
    new_id,
    store_deletion,
    store_version,
)
from eolc_fhir.services.results import Result
from eolc_fhir.services.search import audit_log
from eolc_fhir.services.search.query import find_ids
from eolc_fhir.storage.model import StoredResource
from eolc_fhir.storage.repository import ConcurrentWriteError
from eolc_fhir.storage.unit_of_work import UnitOfWork

__all__ = ["create", "read", "vread", "update", "delete", "conditional_update", "retrying",
           "conditional_delete", "query_params", "new_id",
           "create_in", "update_in", "delete_in"]

_RETRIES = 5
T = TypeVar("T")


async def retrying(ctx: ServerContext, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """Run ``work(uow)`` in a write unit of work, retrying lost version races."""
    for attempt in range(_RETRIES):
        try:
            async with ctx.db.unit_of_work(write=True) as uow:
                result = await work(uow)
            return result
        except ConcurrentWriteError:
            if attempt == _RETRIES - 1:
                raise PreconditionFailed("the resource kept changing; retry the request") from None
    raise AssertionError("unreachable")


def query_params(query: str) -> list[tuple[str, str]]:
    return parse_qsl(query, keep_blank_values=True)


async def create_in(ctx: ServerContext, uow: UnitOfWork, resource: dict[str, Any],
                    if_none_exist: str | None = None, *,
                    base_check: BaseCheck = "full") -> Result:
    """Create inside a caller's unit of work (REST create).

    ``base_check``: what is still owed of the base stage (admission.py); "done" when the
    resource came from read_body.
    """
    rtype = resource["resourceType"]
    if if_none_exist:
        await uow.lock(f"{rtype}?{if_none_exist}")
        ids = await find_ids(uow, rtype, query_params(if_none_exist), registry=ctx.search)
        if len(ids) > 1:
            raise PreconditionFailed(
                f"If-None-Exist matched {len(ids)} resources; the criteria are not selective"
            )
        if ids:
            # Nothing is written, but an invalid body is still refused (422), as ever.
            warnings = admit(ctx.validator, resource, base_check=base_check).warnings
            existing = await uow.resources.get_current(rtype, ids[0])
            return Result(200, stored=existing, warnings=warnings)
    resource["id"] = new_id()
    written = await store_version(ctx, uow, resource, None, method="POST",
                                  base_check=base_check)
    return Result(201, stored=written.stored, warnings=written.warnings,
                  content_location=True)


async def create(ctx: ServerContext, resource: dict[str, Any],
                 if_none_exist: str | None = None, *,
                 base_check: BaseCheck = "full") -> Result:
    if not if_none_exist and _grouped(ctx):
        # Admitted here (on SQLite: outside the one writer's lock), then written in a
        # group with the creates that arrive meanwhile (group_create.py).
        resource["id"] = new_id()
        admitted = admit(ctx.validator, resource, base_check=base_check)
        written = await _create_groups(ctx).create(admitted)
        return Result(201, stored=written.stored, warnings=written.warnings,
                      content_location=True)
    return await retrying(
        ctx, lambda uow: create_in(ctx, uow, resource, if_none_exist, base_check=base_check))


def _grouped(ctx: ServerContext) -> bool:
    return bool(ctx.settings.group_creates)


def _create_groups(ctx: ServerContext) -> CreateGroups:
    if ctx.create_groups is None:
        ctx.create_groups = CreateGroups(ctx)
    groups: CreateGroups = ctx.create_groups
    return groups


async def update_in(ctx: ServerContext, uow: UnitOfWork, resource: dict[str, Any],
                    resource_id: str, if_match: str | None = None, *,
                    base_check: BaseCheck = "full") -> Result:
    rtype = resource["resourceType"]
    if resource.get("id") is None:
        raise InvalidRequest("the resource must have an id for update", code="required",
                             expression=f"{rtype}.id")
    if resource["id"] != resource_id:
        raise InvalidRequest(
            f"the resource id '{resource['id']}' does not match the URL id '{resource_id}'",
            expression=f"{rtype}.id",
        )
    current = await uow.resources.get_current(rtype, resource_id, for_update=True)
    check_if_match(if_match, current)
    written = await store_version(ctx, uow, resource, current, method="PUT",
                                  base_check=base_check)
    created = current is None or current.deleted
    return Result(201 if created else 200, stored=written.stored, warnings=written.warnings,
                  content_location=created)


async def update(ctx: ServerContext, resource: dict[str, Any], resource_id: str,
                 if_match: str | None = None, *, base_check: BaseCheck = "full") -> Result:
    # Copy per attempt: store_version writes meta into the dict.
    return await retrying(
        ctx, lambda uow: update_in(ctx, uow, dict(resource), resource_id, if_match,
                                   base_check=base_check))


async def conditional_update(ctx: ServerContext, resource: dict[str, Any], query: str,
                             if_match: str | None = None, *,
                             base_check: BaseCheck = "full") -> Result:
    rtype = resource["resourceType"]

    async def work(uow: UnitOfWork) -> Result:
        await uow.lock(f"{rtype}?{query}")
        ids = await find_ids(uow, rtype, query_params(query), registry=ctx.search)
        if len(ids) > 1:
            raise PreconditionFailed(f"the conditional update matched {len(ids)} resources")
        target = ids[0] if ids else resource.get("id") or new_id()
        if ids and resource.get("id") not in (None, target):
            raise InvalidRequest("the resource id does not match the resource found by the "
                                 "search", expression=f"{rtype}.id")
        return await update_in(ctx, uow, {**resource, "id": target}, target, if_match,
                               base_check=base_check)

    return await retrying(ctx, work)


async def delete_in(ctx: ServerContext, uow: UnitOfWork, rtype: str, resource_id: str,
                    if_match: str | None = None) -> Result:
    current = await uow.resources.get_current(rtype, resource_id, for_update=True)
    if current is None or current.deleted:
        return Result(204)  # deleting what is not there is harmless
    check_if_match(if_match, current)
    stored = await store_deletion(ctx, uow, current)
    return Result(204, stored=stored)


async def delete(ctx: ServerContext, rtype: str, resource_id: str,
                 if_match: str | None = None) -> Result:
    return await retrying(ctx, lambda uow: delete_in(ctx, uow, rtype, resource_id, if_match))


def _live(stored: StoredResource | None, rtype: str, resource_id: str) -> StoredResource:
    if stored is None:
        raise NotFound(f"{rtype}/{resource_id} is not known")
    if stored.deleted:
        raise Gone(f"{rtype}/{resource_id} has been deleted",
                   headers={"ETag": f'W/"{stored.version}"'})
    return stored


async def read(ctx: ServerContext, rtype: str, resource_id: str) -> Result:
    """The current version; 404 unknown, 410 deleted (both front doors call this)."""
    if rtype == audit_log.AUDIT_TYPE:  # built from the audit log, not stored as a resource
        return Result(200, stored=await audit_log.read(ctx, resource_id))
    stored = await ctx.db.get_current(rtype, resource_id)
    return Result(200, stored=_live(stored, rtype, resource_id))


async def vread(ctx: ServerContext, rtype: str, resource_id: str, version: str) -> Result:
    if not version.isdigit():
        raise NotFound(f"{rtype}/{resource_id} has no version '{version}'")
    async with ctx.db.unit_of_work(write=False) as uow:
        stored = await uow.resources.get_version(rtype, resource_id, int(version))
    if stored is None:
        raise NotFound(f"{rtype}/{resource_id} has no version {version}")
    if stored.deleted:
        raise Gone(f"version {version} of {rtype}/{resource_id} is a deletion")
    return Result(200, stored=stored)


async def conditional_delete(ctx: ServerContext, rtype: str, query: str) -> Result:
    """Delete the one resource the search matches; none is harmless; several → 412."""

    async def work(uow: UnitOfWork) -> Result:
        await uow.lock(f"{rtype}?{query}")
        ids = await find_ids(uow, rtype, query_params(query), registry=ctx.search)
        if len(ids) > 1:
            raise PreconditionFailed(f"the conditional delete matched {len(ids)} resources")
        if not ids:
            return Result(204)
        return await delete_in(ctx, uow, rtype, ids[0])

    return await retrying(ctx, work)
