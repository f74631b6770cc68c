"""The bare baseline: Starlette + stdlib sqlite3 returning stored JSON bytes by key.

The floor every benchmark is measured against (docs/performance.md). The database file comes from
BENCH_BASELINE_DB. POST stores the body as received (no parsing) under a new key.
"""

from __future__ import annotations

import os
import sqlite3
import uuid

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["app", "open_db"]

_MEDIA = "application/fhir+json"


def open_db(path: str) -> sqlite3.Connection:
    """Autocommit connection in WAL mode, as our server's SQLite engine runs."""
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE IF NOT EXISTS blobs (key TEXT PRIMARY KEY, content BLOB NOT NULL)")
    return conn


_conn = open_db(os.environ.get("BENCH_BASELINE_DB", ":memory:"))


async def read(request: Request) -> Response:
    # A primary-key lookup takes microseconds: run it on the event loop, no thread hop.
    row = _conn.execute(
        "SELECT content FROM blobs WHERE key = ?", (request.path_params["key"],)
    ).fetchone()
    if row is None:
        return Response(b'{"resourceType":"OperationOutcome"}', 404, media_type=_MEDIA)
    return Response(row[0], media_type=_MEDIA)


async def create(request: Request) -> Response:
    body = await request.body()
    key = uuid.uuid4().hex
    _conn.execute("INSERT INTO blobs (key, content) VALUES (?, ?)", (key, body))
    return Response(body, 201, media_type=_MEDIA, headers={"Location": f"/Patient/{key}"})


async def healthz(_request: Request) -> Response:
    return Response(b"ok", media_type="text/plain")


app = Starlette(
    routes=[
        Route("/Patient/{key}", read, methods=["GET"]),
        Route("/Patient", create, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
)
