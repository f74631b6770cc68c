"""Writes grouped for speed behave like writes made one by one.

A transaction's consecutive plain creates go in one multi-row insert per table
(entries.run_creates); concurrent REST creates share one commit
(services/resources/group_commit.py). These tests fail if either stores other
rows, loses atomicity or answers with another error than the one-by-one path.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import event, select

from eolc_fhir.storage import schema
from tests.builders import make_care_plan, make_preferred_place
from tests.db_snapshot import snapshot
from tests.security_support import SecureApp, secure, secure_settings

__all__ = ["secure", "secure_settings"]

pytestmark = pytest.mark.usefixtures("engine_name")

_INDEX_TABLES = ("idx_token", "idx_reference", "idx_date", "idx_string", "idx_quantity",
                 "idx_uri", "idx_number")


def _db(client: httpx.AsyncClient) -> Any:
    return client.app.state.ctx.db  # type: ignore[attr-defined]


def _transaction(resources: list[dict[str, Any]]) -> bytes:
    return orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": f"urn:uuid:{n:08d}-0000-4000-8000-000000000000", "resource": r,
         "request": {"method": "POST", "url": r["resourceType"]}}
        for n, r in enumerate(resources)]})


async def _index_rows(client: httpx.AsyncClient, rtype: str, rid: str) -> dict[str, list[Any]]:
    """Every index row of one resource, without its own type and id (to compare two)."""
    out: dict[str, list[Any]] = {}
    async with _db(client).engine.connect() as conn:
        for table in schema.metadata.sorted_tables:
            if table.name not in _INDEX_TABLES:
                continue
            cols = [c for c in table.columns if c.name not in ("res_type", "res_id", "id")]
            rows = await conn.execute(select(*cols).where(table.c.res_type == rtype,
                                                          table.c.res_id == rid))
            out[table.name] = sorted(tuple(r) for r in rows)
    return out


async def test_transaction_creates_store_the_rows_of_single_creates(
        client: httpx.AsyncClient) -> None:
    resources = [make_care_plan(), make_preferred_place(), make_care_plan()]
    alone = []
    for resource in resources:
        resp = await client.post(f"/{resource['resourceType']}", content=orjson.dumps(resource))
        assert resp.status_code == 201, resp.text
        alone.append(resp.json())
    resp = await client.post("/", content=_transaction(resources))
    assert resp.status_code == 200, resp.text
    together = [e["resource"] for e in resp.json()["entry"]]
    for one, other in zip(alone, together, strict=True):
        rtype = one["resourceType"]
        assert await _index_rows(client, rtype, one["id"]) == \
            await _index_rows(client, rtype, other["id"])
        assert {k: v for k, v in one.items() if k not in ("id", "meta")} == \
            {k: v for k, v in other.items() if k not in ("id", "meta")}
        history = (await client.get(f"/{rtype}/{other['id']}/_history")).json()
        assert history["total"] == 1


async def test_transaction_whose_20th_entry_is_invalid_stores_nothing(
        client: httpx.AsyncClient) -> None:
    before = await snapshot(_db(client))
    resources = [make_preferred_place() for _ in range(19)] + [make_care_plan(author=None)]
    resp = await client.post("/", content=_transaction(resources))
    assert resp.status_code == 422, resp.text
    expressions = [e for i in resp.json()["issue"] for e in i.get("expression", [])]
    assert any(e.startswith("Bundle.entry[19].resource") for e in expressions), expressions
    assert await snapshot(_db(client)) == before


async def test_transaction_with_a_base_error_in_the_middle_stores_nothing(
        client: httpx.AsyncClient) -> None:
    before = await snapshot(_db(client))
    resources = [make_preferred_place() for _ in range(20)]
    resources[7] = {**resources[7], "effectiveDateTime": "2024-02-30"}
    resp = await client.post("/", content=_transaction(resources))
    assert resp.status_code == 400, resp.text
    expressions = [e for i in resp.json()["issue"] for e in i.get("expression", [])]
    assert any(e.startswith("Bundle.entry[7]") for e in expressions), expressions
    assert await snapshot(_db(client)) == before


async def _concurrent_creates(client: httpx.AsyncClient,
                              resources: list[dict[str, Any]]) -> list[httpx.Response]:
    import asyncio

    return list(await asyncio.gather(*(
        client.post(f"/{r['resourceType']}", content=orjson.dumps(r)) for r in resources)))


async def test_concurrent_creates_share_commits_and_each_gets_its_own_answer(
        client: httpx.AsyncClient) -> None:
    resources = [make_care_plan() for _ in range(12)]
    resources[5] = make_care_plan(author=None)  # refused by the profile: 422, alone
    responses = await _concurrent_creates(client, resources)
    assert [r.status_code for r in responses] == [201] * 5 + [422] + [201] * 6
    groups = client.app.state.ctx.create_groups  # type: ignore[attr-defined]
    assert groups is not None and groups.groups < 11  # some creates did share
    reference = await _index_rows(client, "CarePlan", responses[0].json()["id"])
    for response in responses[:5] + responses[6:]:
        created = response.json()
        assert response.headers["location"].endswith(f"/CarePlan/{created['id']}/_history/1")
        read = await client.get(f"/CarePlan/{created['id']}")
        assert read.json() == created
        assert await _index_rows(client, "CarePlan", created["id"]) == reference


async def test_a_group_that_fails_writes_each_create_alone(client: httpx.AsyncClient) -> None:
    """One create's write hook fails inside a group's transaction: that request alone gets
    the error and stores nothing; the others of its group are written and answered 201."""
    from eolc_fhir.fhir.errors import InvalidRequest

    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    marker = "refuse-me-in-the-hook"

    async def refusing(_ctx: Any, _uow: Any, change: Any) -> None:
        if change.resource and change.resource.get("language") == marker:
            raise InvalidRequest("refused by a test hook", expression="CarePlan.language")

    ctx.hooks.write_hooks.append(refusing)
    try:
        resources = [make_care_plan() for _ in range(10)]
        resources[3] = {**resources[3], "language": marker}
        before = (await client.get("/CarePlan/_history")).json()["total"]
        responses = await _concurrent_creates(client, resources)
    finally:
        ctx.hooks.write_hooks.remove(refusing)
    statuses = [r.status_code for r in responses]
    assert statuses == [201] * 3 + [400] + [201] * 6, statuses
    assert responses[3].json()["issue"][0]["expression"] == ["CarePlan.language"]
    after = (await client.get("/CarePlan/_history")).json()["total"]
    assert after == before + 9


def test_contexts_are_batched_only_when_they_hold_the_same_objects() -> None:
    import contextvars

    from eolc_fhir.services.resources.writes import _same_values

    who: contextvars.ContextVar[object] = contextvars.ContextVar("who")
    alice, bob = object(), object()

    def with_value(value: object | None) -> contextvars.Context:
        context = contextvars.Context()
        if value is not None:
            context.run(who.set, value)
        return context

    assert _same_values([with_value(None), with_value(None)])
    assert _same_values([with_value(alice), with_value(alice)])
    assert not _same_values([with_value(alice), with_value(bob)])
    assert not _same_values([with_value(alice), with_value(None)])
    assert not _same_values([with_value(None), with_value(alice)])


async def test_concurrent_creates_of_different_clients_keep_their_own_provenance_and_audit(
        secure: SecureApp) -> None:
    """Auth on: creates of two clients that share a group's transaction each get a
    Provenance and an audit record naming their own client, and are recorded as theirs;
    the group writes them a few statements at a time, not about a dozen per create."""
    writers = [await secure.headers("gp", client_id="gp-a"),
               await secure.headers("hospice", client_id="hospice-b")]
    who = ["gp-a", "hospice-b"]
    resources = [make_care_plan() for _ in range(12)]
    for headers in writers:  # first requests read the client's rate limit: not counted
        first = await secure.http.post("/CarePlan", content=orjson.dumps(make_care_plan()),
                                       headers={**headers, "Content-Type": "application/fhir+json"})
        assert first.status_code == 201, first.text
    before = secure.ctx.create_groups.groups
    statements: list[str] = []

    def counted(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = secure.ctx.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", counted)
    try:
        responses = list(await asyncio.gather(*(
            secure.http.post("/CarePlan", content=orjson.dumps(r),
                             headers={**writers[n % 2], "Content-Type": "application/fhir+json"})
            for n, r in enumerate(resources))))
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    assert [r.status_code for r in responses] == [201] * 12, responses[0].text
    groups = secure.ctx.create_groups.groups - before
    assert groups < 11  # some creates did share
    # Per group at most: BEGIN, the resources, the live Subscriptions, the bookkeeping rows,
    # the Provenances, the audit records and their references (on SQLite the resources and
    # audit rows go by the driver, outside these statements); a create written on its own
    # took about a dozen statements.
    assert len(statements) <= 7 * groups and len(statements) < len(resources), \
        "\n".join(s[:90] for s in statements)
    admin = await secure.headers("admin", client_id="auditor")
    async with secure.ctx.db.unit_of_work(write=False) as uow:
        origins = await uow.security.origins(
            [("CarePlan", r.json()["id"]) for r in responses])
    for n, response in enumerate(responses):
        target = f"CarePlan/{response.json()['id']}"
        assert origins[("CarePlan", response.json()["id"])].client_id == who[n % 2]
        found = await secure.http.get("/Provenance", params={"target": target}, headers=admin)
        provenances = [e["resource"] for e in found.json().get("entry", [])]
        assert len(provenances) == 1, target
        assert provenances[0]["target"] == [{"reference": f"{target}/_history/1"}]
        author = provenances[0]["agent"][0]["who"]
        assert author["reference"] == f"Device/{who[n % 2]}", (target, author)
        audited = await secure.http.get("/AuditEvent", params={"entity": target},
                                        headers=admin)
        events = [e["resource"] for e in audited.json().get("entry", [])]
        assert [e["subtype"][0]["code"] for e in events] == ["create"], target
        agent = events[0]["agent"][0]["who"]
        assert who[n % 2] in orjson.dumps(agent).decode(), (target, agent)
