"""$wishes documents are kept and served again only while they are current.

While no resource was written since a document was checked (SQLite: the change
counter its triggers keep; PostgreSQL: no change notification heard and no
resource written by this process), it is served without reading; after any
such commit the record is read again and the document is rebuilt only if its
ETag changed. Audit records (the audit log, not resources) do not count.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from eolc_fhir.app import create_app
from eolc_fhir.config import Settings
from eolc_fhir.services.wishes import document as wishes
from eolc_fhir.services.wishes.cache import DocumentCache, KeptDocument, footprint
from eolc_fhir.storage.compartment import PatientReader
from tests.api.test_wishes import QUERY, _put, _record, _section, _WithdrawnState
from tests.builders import make_lpa

pytestmark = pytest.mark.usefixtures("engine_name")


class _Counts:
    def __init__(self) -> None:
        self.reads = 0
        self.builds = 0


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> _Counts:
    seen = _Counts()
    fetch, build = PatientReader.fetch, wishes.build_sections

    async def counted_fetch(self: PatientReader, *args: Any, **kwargs: Any) -> Any:
        seen.reads += 1
        return await fetch(self, *args, **kwargs)

    def counted_build(*args: Any, **kwargs: Any) -> Any:
        seen.builds += 1
        return build(*args, **kwargs)

    monkeypatch.setattr(PatientReader, "fetch", counted_fetch)
    monkeypatch.setattr(wishes, "build_sections", counted_build)
    return seen


async def _token_moves(client: httpx.AsyncClient, since: object) -> None:
    """Wait (PostgreSQL: the notification comes a little after the commit) for a new token."""
    db = client.app.state.ctx.db  # type: ignore[attr-defined]
    for _ in range(500):
        token = db.change_token()
        if token is not None and token != since:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the change token never moved")


async def _get(client: httpx.AsyncClient) -> httpx.Response:
    resp = await client.get("/Patient/$wishes", params=QUERY)
    assert resp.status_code == 200, resp.text
    return resp


async def test_unchanged_record_is_not_rebuilt(client: httpx.AsyncClient, counts: _Counts,
                                               engine_name: str) -> None:
    await _record(client)
    first = await _get(client)
    if engine_name == "postgresql":  # the first lookup started the listener: wait for it
        await _token_moves(client, None)
        await _get(client)  # kept before anything was heard: checked by reading once
    reads = counts.reads
    again = await _get(client)
    assert again.content == first.content and again.headers["ETag"] == first.headers["ETag"]
    assert counts.builds == 1
    assert counts.reads == reads  # nothing was committed: served without reading


async def test_a_change_to_the_record_is_seen_at_once(client: httpx.AsyncClient,
                                                      counts: _Counts) -> None:
    await _record(client)
    first = await _get(client)
    await _put(client, make_lpa(telecom=[{"system": "phone", "value": "07700 900999"}]), "lpa-1")
    changed = await _get(client)
    assert changed.headers["ETag"] != first.headers["ETag"]
    assert "07700 900999" in _section(changed.json(), "lpa")["text"]["div"]
    assert counts.builds == 2


async def test_a_write_elsewhere_rereads_but_does_not_rebuild(client: httpx.AsyncClient,
                                                              counts: _Counts) -> None:
    await _record(client)
    first = await _get(client)
    reads = counts.reads
    await _put(client, {"resourceType": "Organization", "name": "Another practice"}, "other")
    again = await _get(client)
    assert again.content == first.content
    assert counts.reads == reads + 1 and counts.builds == 1


async def test_a_commit_through_another_connection_is_seen(
        client: httpx.AsyncClient, migrated_url: str, engine_name: str) -> None:
    """Another process writing the same database (here: a plain driver connection)."""
    await _record(client)
    await _get(client)
    await _token_moves(client, None)
    await _get(client)
    before = client.app.state.ctx.db.change_token()  # type: ignore[attr-defined]
    lpa = {**make_lpa(telecom=[{"system": "phone", "value": "07700 900777"}]), "id": "lpa-1"}
    await _write_elsewhere(migrated_url, engine_name, lpa)
    await _token_moves(client, before)  # SQLite at once; PostgreSQL when notified
    changed = await _get(client)
    assert "07700 900777" in _section(changed.json(), "lpa")["text"]["div"]


async def _write_elsewhere(url: str, engine_name: str, resource: dict[str, Any]) -> None:
    sql = ("UPDATE resources SET version = version + 1, content = {} "
           "WHERE res_type = {} AND res_id = {}")
    args = (orjson.dumps(resource), resource["resourceType"], resource["id"])
    if engine_name == "sqlite":
        import sqlite3

        with sqlite3.connect(url.split("///", 1)[1]) as conn:
            assert conn.execute(sql.format("?", "?", "?"), args).rowcount == 1
        return
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        assert await conn.execute(sql.format("$1", "$2", "$3"), *args) == "UPDATE 1"
    finally:
        await conn.close()


async def test_documents_narrowed_by_withdrawn_consent_are_kept_per_viewer(
        client: httpx.AsyncClient) -> None:
    import time

    from eolc_fhir.security.principal import Principal, RequestContext, current
    from eolc_fhir.security.scopes import parse_scopes
    from tests.api.test_wishes import PID

    await _record(client)
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    crew = Principal("crew", "RYC01", "ambulance", parse_scopes("system/*.rs"), time.time() + 60)
    ctx.security = _WithdrawnState({PID})
    try:
        everything = await wishes.wishes_for_patient(ctx, PID, base_url="http://test")  # admin
        token = current.set(RequestContext("r1", principal=crew))
        try:
            narrowed = await wishes.wishes_for_patient(ctx, PID, base_url="http://test")
            again = await wishes.wishes_for_patient(ctx, PID, base_url="http://test")
        finally:
            current.reset(token)
    finally:
        ctx.security = None
    assert everything.etag != narrowed.etag and again.body == narrowed.body  # kept, not rebuilt
    cache = wishes.document_cache(ctx)
    key = ("id", PID, "http://test")
    marker = cache.get(key)
    assert marker is not None and marker.view == "*" and marker.body == b""
    for_admin, for_crew = cache.get_for(key, "admin"), cache.get_for(key, "ods:RYC01")
    assert for_admin is not None and for_admin.body == everything.body
    assert for_crew is not None and for_crew.body == narrowed.body
    assert cache.get_for(key, "ods:OTHER") is None  # another organisation's view is built


@pytest.fixture
async def uncached(migrated_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(database_url=migrated_url, insecure_dev=True,
                              base_url="http://test", wishes_cache_mb=0))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://test",
                                     headers={"Content-Type": "application/fhir+json"}) as http:
            yield http


async def test_a_zero_cache_rebuilds_every_time(uncached: httpx.AsyncClient,
                                                counts: _Counts) -> None:
    await _record(uncached)
    first, again = await _get(uncached), await _get(uncached)
    assert counts.builds == 2
    assert first.headers["ETag"] == again.headers["ETag"]
    composition = orjson.loads(again.content)["entry"][0]["resource"]
    assert composition["id"] != orjson.loads(first.content)["entry"][0]["resource"]["id"]


def _doc(size: int) -> KeptDocument:
    return KeptDocument(1, "2026-11-30", 'W/"x"', b"x" * size, (), ["p"])


def test_cache_is_bounded_in_bytes_least_recently_used_first() -> None:
    cache = DocumentCache(max_bytes=250)
    for name in ("a", "b"):
        cache.put(("id", name, "http://b"), _doc(100))
    assert cache.get(("id", "a", "http://b")) is not None  # a is now the most recent
    cache.put(("id", "c", "http://b"), _doc(100))
    assert cache.get(("id", "b", "http://b")) is None
    assert cache.get(("id", "a", "http://b")) is not None
    assert cache.bytes == 200 and len(cache) == 2
    cache.put(("id", "a", "http://b"), _doc(50))  # replaced, not counted twice
    assert cache.bytes == 150
    cache.put(("id", "huge", "http://b"), _doc(251))
    assert cache.get(("id", "huge", "http://b")) is None and cache.bytes == 150


def test_the_references_a_document_read_count_against_the_bound_too() -> None:
    """A person with hundreds of register entries: the list of what was read is kept for
    the audit beside the body, and counts."""
    many = [f"Flag/{n:036d}/_history/1" for n in range(300)]
    heavy = KeptDocument(1, "2026-11-30", 'W/"x"', b"x" * 1000, (), ["p"], resources=many)
    assert footprint(heavy) == 1000 + sum(len(r) + 64 for r in many)
    cache = DocumentCache(max_bytes=footprint(heavy) + 300)
    cache.put(("id", "light", "http://b"), _doc(400))
    cache.put(("id", "heavy", "http://b"), heavy)  # the body alone would have fitted beside
    assert cache.get(("id", "light", "http://b")) is None
    assert cache.bytes == footprint(heavy) and len(cache) == 1
