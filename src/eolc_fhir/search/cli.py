"""``eolc-fhir reindex [TYPE ...]``: apply the current search parameters to stored data."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from typing import Any

from eolc_fhir.config import Settings
from eolc_fhir.search.registry import SearchRegistry
from eolc_fhir.storage import migrate
from eolc_fhir.storage.database import Database

__all__ = ["register_commands"]

Handler = Callable[[argparse.Namespace], int]


def _reindex(args: argparse.Namespace) -> int:
    url = getattr(args, "database_url", None)
    settings = Settings(database_url=url) if url else Settings()
    registry = SearchRegistry.load(settings.profiles_dir)

    async def run() -> int:
        db = Database(settings.database_url)
        try:
            await migrate.upgrade(db)
            return await db.reindex(registry.extract, args.types or None)
        finally:
            await db.close()

    print(f"re-indexed {asyncio.run(run())} resources")
    return 0


def register_commands(sub: Any, add_db: Callable[[argparse.ArgumentParser], None]
                      ) -> dict[str, Handler]:
    parser = sub.add_parser("reindex", help="rebuild search indexes (after adding a "
                                            "SearchParameter to profiles/)")
    parser.add_argument("types", nargs="*", help="only these resource types (default: all)")
    add_db(parser)
    return {"reindex": _reindex}
