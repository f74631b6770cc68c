"""Optional reference target: FastAPI + stdlib sqlite3 returning stored bytes.

It shows what FastAPI's routing alone costs next to bare Starlette, i.e. the ceiling a
FastAPI route can reach. Same database layout as ``bench.baseline_app``.
"""

from __future__ import annotations

import os
import uuid

from fastapi import FastAPI, Request
from fastapi.responses import Response

from bench.baseline_app import open_db

__all__ = ["app"]

_MEDIA = "application/fhir+json"
_conn = open_db(os.environ.get("BENCH_BASELINE_DB", ":memory:"))
app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/Patient/{key}")
async def read(key: str) -> Response:
    row = _conn.execute("SELECT content FROM blobs WHERE key = ?", (key,)).fetchone()
    if row is None:
        return Response(b'{"resourceType":"OperationOutcome"}', 404, media_type=_MEDIA)
    return Response(row[0], media_type=_MEDIA)


@app.post("/Patient")
async def create(request: Request) -> Response:
    body = await request.body()
    key = uuid.uuid4().hex
    _conn.execute("INSERT INTO blobs (key, content) VALUES (?, ?)", (key, body))
    return Response(body, 201, media_type=_MEDIA, headers={"Location": f"/Patient/{key}"})


@app.get("/healthz")
async def healthz() -> Response:
    return Response(b"ok", media_type="text/plain")
