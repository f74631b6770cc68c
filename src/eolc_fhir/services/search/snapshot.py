"""Stable pages for sorted searches: later pages follow the order taken at page one.

Keyset paging on ``res_id`` is stable by construction, but a sort key such as a
date can change while a client pages; a resource would then move across the
page boundary and be seen twice or never. A sorted search with more than one
page therefore records its order (up to ``SNAPSHOT_MAX`` ids; beyond that it
falls back to keyset paging) and serves the next pages from that record.
"""

from __future__ import annotations

import uuid

from eolc_fhir.fhir.errors import Gone
from eolc_fhir.fhir.instant import now_us
from eolc_fhir.search import ParsedSearch
from eolc_fhir.services.context import ServerContext
from eolc_fhir.storage.model import PageRow
from eolc_fhir.storage.unit_of_work import UnitOfWork

__all__ = ["wants_snapshot", "take_snapshot", "snapshot_page", "SNAPSHOT_MAX", "KEEP_US"]

SNAPSHOT_MAX = 5000
KEEP_US = 3600 * 1_000_000  # an hour to page through a result


def wants_snapshot(parsed: ParsedSearch) -> bool:
    return any(key.param != "_id" for key in parsed.query.sort)


async def take_snapshot(ctx: ServerContext, uow: UnitOfWork, parsed: ParsedSearch) -> str | None:
    """Record the order of the whole result (as ``uow`` sees it); None when too large."""
    ids = await uow.search.sorted_ids(parsed.query, SNAPSHOT_MAX + 1)
    if len(ids) > SNAPSHOT_MAX:
        return None
    snapshot_id = str(uuid.uuid4())
    async with ctx.db.unit_of_work() as writer:
        await writer.search.save_snapshot(snapshot_id, parsed.query.resource_type, ids,
                                          now_us(), KEEP_US)
    return snapshot_id


async def snapshot_page(uow: UnitOfWork, snapshot_id: str, offset: int,
                        count: int) -> tuple[list[PageRow], bool]:
    """The page at ``offset``: current versions, in the recorded order (deleted ones drop out)."""
    keys = await uow.search.snapshot_slice(snapshot_id, offset, count + 1)
    if keys is None:
        raise Gone("the pages of this search have expired; run the search again")
    found = await uow.search.fetch_current(keys[:count])
    return [PageRow(rid, content, ()) for _, rid, content in found], len(keys) > count
