"""Helpers for search storage tests: load resources with their index rows, run a search."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from eolc_fhir.config import DEFAULT_PROFILES_DIR
from eolc_fhir.search import SearchRegistry, parse_search
from eolc_fhir.search.matcher import query_matches
from eolc_fhir.storage.database import Database
from eolc_fhir.storage.model import StoredResource
from eolc_fhir.storage.search_sql import match_ids

__all__ = ["REGISTRY", "load", "sql_ids", "memory_ids"]

REGISTRY = SearchRegistry.load(DEFAULT_PROFILES_DIR)
BASE = "https://eolc.example.org/fhir"
_T0 = 1_700_000_000_000_000


def _stamp(resource: dict[str, Any], n: int) -> int:
    last = _T0 + n * 1_000_000
    meta = dict(resource.get("meta") or {})
    seconds, micros = divmod(last, 1_000_000)
    from datetime import UTC, datetime

    moment = datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)
    meta["lastUpdated"] = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    resource["meta"] = meta
    return last


async def load(db: Database, resources: Iterable[dict[str, Any]],
               registry: SearchRegistry = REGISTRY) -> None:
    async with db.unit_of_work() as uow:
        for n, resource in enumerate(resources):
            last = _stamp(resource, n)
            stored = StoredResource(resource["resourceType"], resource["id"], 1, last, False,
                                    orjson.dumps(resource), "POST")
            await uow.resources.insert_new(stored)
            await uow.resources.replace_index(stored.resource_type, stored.id,
                                              registry.extract(resource), existed=False)


async def sql_ids(db: Database, rtype: str, params: list[tuple[str, str]]) -> set[str]:
    parsed = parse_search(REGISTRY, rtype, params, base_url=BASE)
    async with db.unit_of_work(write=False) as uow:
        return set(await match_ids(uow.connection, uow.dialect, parsed.query))


def memory_ids(resources: Iterable[dict[str, Any]], rtype: str,
               params: list[tuple[str, str]]) -> set[str]:
    parsed = parse_search(REGISTRY, rtype, params, base_url=BASE)
    return {
        r["id"] for r in resources
        if r["resourceType"] == rtype and query_matches(parsed.query, r, REGISTRY.extract(r))
    }
