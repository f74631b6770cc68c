"""What the lean readers need of the Database: its read-only connections, and a read
unit of work where there are none (an in-memory SQLite database).

A Protocol, so the readers the Database builds (``search_repo.LeanSearch``,
``compartment.PatientReader``) need not import the Database itself.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from eolc_fhir.storage.pg_reader import PgReader

__all__ = ["ReadSources"]


class ReadSources(Protocol):
    """A SQLite file's read-only ``sqlite3`` connection, or PostgreSQL's asyncpg read pool."""

    pg: PgReader | None

    def sqlite_reader(self) -> sqlite3.Connection | None: ...

    # A UnitOfWork; not named, or this module and unit_of_work would import each other.
    def unit_of_work(self, *, write: bool = True) -> AbstractAsyncContextManager[Any]: ...
