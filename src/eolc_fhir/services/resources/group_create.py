"""Group commit of concurrent REST creates: several requests, one transaction.

A create is ~7 statements and a commit; on SQLite each statement costs a hop to
aiosqlite's thread and there is one writer, on PostgreSQL each is a round trip and
each commit a WAL flush. Creates that arrive while another
group is being written wait, then go together: one multi-row insert per table
(``store_new_versions``), one commit. Each request keeps what it had alone:

- it is admitted (base + profile stages) in its own task, before it joins a group,
  so a refused resource gets its own 400/422 and never reaches the group;
- its write hooks (subscription events, bookkeeping, Provenance, AuditEvent) run in
  the request's own context (who asked, and how), inside the group's transaction;
- if the group's transaction fails, nothing of it was stored and each of its
  creates is written again alone, in its own transaction, so each request gets its
  own outcome (its own error, or its 201) and none is stored in part.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Sequence

from eolc_fhir.fhir.errors import PreconditionFailed
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.resources.admission import Admitted
from eolc_fhir.services.resources.writes import Written, store_new_versions, store_version
from eolc_fhir.storage.repository import ConcurrentWriteError

__all__ = ["CreateGroups"]

_Item = tuple[Admitted, contextvars.Context]
_MAX_GROUP = 64  # a group's transaction holds the one writer: keep it short


class CreateGroups:
    """``await groups.create(admitted)``: write one admitted new resource in a group.

    No long-lived task: the first create finding no writer at work starts one, which
    writes group after group until nothing is queued, then ends.
    """

    def __init__(self, ctx: ServerContext) -> None:
        self._ctx = ctx
        self._queue: list[tuple[_Item, asyncio.Future[Written]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.groups = 0  # transactions written so far (tests)

    async def create(self, admitted: Admitted) -> Written:
        future: asyncio.Future[Written] = asyncio.get_running_loop().create_future()
        self._queue.append(((admitted, contextvars.copy_context()), future))
        if self._writer is None or self._writer.done():
            # An empty context: the writer must not run as the request that started it.
            self._writer = asyncio.create_task(self._drain(), name="eolc-group-create",
                                               context=contextvars.Context())
        return await future

    async def stop(self) -> None:
        """Wait for the groups already queued (a server stops taking requests first)."""
        if self._writer is not None:
            await self._writer

    async def _drain(self) -> None:
        while self._queue:
            group = [(item, f) for item, f in self._queue[:_MAX_GROUP] if not f.done()]
            del self._queue[:_MAX_GROUP]
            if not group:
                continue
            results = await self._write([item for item, _ in group])
            self.groups += 1
            for (_, future), result in zip(group, results, strict=True):
                if future.done():
                    continue  # its request went away; the write stands, as for any commit
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    async def _write(self, items: Sequence[_Item]) -> Sequence[Written | BaseException]:
        ctx = self._ctx
        try:
            async with ctx.db.unit_of_work(write=True) as uow:
                written = await store_new_versions(
                    ctx, uow, [a for a, _ in items], method="POST",
                    contexts=[c for _, c in items])
            return written
        except Exception as exc:
            if len(items) == 1 and not isinstance(exc, ConcurrentWriteError):
                return [exc]  # alone already: the same write would fail the same way
        return [await self._alone(item) for item in items]

    async def _alone(self, item: _Item) -> Written | BaseException:
        admitted, context = item
        try:
            return await asyncio.create_task(self._store_alone(admitted), context=context)
        except Exception as exc:
            return exc

    async def _store_alone(self, admitted: Admitted) -> Written:
        ctx = self._ctx
        for _ in range(3):
            try:
                async with ctx.db.unit_of_work(write=True) as uow:
                    return await store_version(ctx, uow, admitted.resource, None,
                                               method="POST", base_check="done")
            except ConcurrentWriteError:
                continue  # a new uuid clashing: practically never
        raise PreconditionFailed("the resource kept changing; retry the request")
