"""Property: for generated resources and queries, SQL search (both engines) == the matcher."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from eolc_fhir.storage import tables as t
from eolc_fhir.storage.database import Database
from tests._pg import run_sync
from tests.storage.search_support import load, memory_ids, sql_ids

SCT = "http://snomed.info/sct"
NHS = "https://fhir.nhs.uk/Id/nhs-number"
DATES = ["1941", "1941-03", "1941-03-14", "1950-12-31", "1941-03-14T10:00:00Z",
         "1941-03-14T23:30:00+02:00", "2026-02-03", "2026-02-03T09:15:30.250Z", "2025-12"]
FAMILIES = ["Hughes", "Hüghes", "hughes-brown", "Okafor", "O'Neil", "Ōkafor"]
IDENTS = [(NHS, "9912003888"), ("urn:x", "9912003888"), (None, "123"), (NHS, "9658220142")]
CODES = [(SCT, "526631000000108"), (SCT, "450476008"), (None, "526631000000108")]
PATIENT_IDS = ["pa", "pb", "pc", "pd"]


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


def _ident(pair: tuple[str | None, str]) -> dict[str, str]:
    return {"value": pair[1]} | ({"system": pair[0]} if pair[0] else {})


@st.composite
def patients(draw: st.DrawFn, pid: str) -> dict[str, Any]:
    res: dict[str, Any] = {"resourceType": "Patient", "id": pid}
    fields = {
        "gender": _maybe(st.sampled_from(["male", "female", "unknown"])),
        "birthDate": _maybe(st.sampled_from(DATES[:4])),
        "active": _maybe(st.booleans()),
    }
    for key, strategy in fields.items():
        value = draw(strategy)
        if value is not None:
            res[key] = value
    families = draw(st.lists(st.sampled_from(FAMILIES), max_size=2))
    if families:
        res["name"] = [{"family": f} for f in families]
    idents = draw(st.lists(st.sampled_from(IDENTS), max_size=2, unique=True))
    if idents:
        res["identifier"] = [_ident(i) for i in idents]
    gp = draw(_maybe(st.sampled_from(["Organization/o1", "Organization/o2"])))
    if gp:
        res["generalPractitioner"] = [{"reference": gp}]
    return res


@st.composite
def flags(draw: st.DrawFn, fid: str) -> dict[str, Any]:
    system, code = draw(st.sampled_from(CODES))
    coding = {"code": code} | ({"system": system} if system else {})
    res: dict[str, Any] = {
        "resourceType": "Flag", "id": fid,
        "status": draw(st.sampled_from(["active", "inactive"])),
        "code": {"coding": [coding]},
        "subject": {"reference": f"Patient/{draw(st.sampled_from(PATIENT_IDS))}"},
    }
    start, end = draw(_maybe(st.sampled_from(DATES))), draw(_maybe(st.sampled_from(DATES)))
    period = ({"start": start} if start else {}) | ({"end": end} if end else {})
    if period:
        res["period"] = period
    return res


def _prefixed(values: list[str]) -> st.SearchStrategy[str]:
    prefixes = ["", "eq", "ne", "gt", "lt", "ge", "le", "sa", "eb"]
    return st.builds(lambda p, v: p + v, st.sampled_from(prefixes), st.sampled_from(values))


def _token(pairs: list[tuple[str | None, str]]) -> st.SearchStrategy[str]:
    forms = [code for _, code in pairs] + [f"{s or ''}|{c}" for s, c in pairs]
    forms += [f"{s}|" for s, _ in pairs if s]
    return st.sampled_from(forms)


def _or(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(values, min_size=1, max_size=2).map(",".join)


PATIENT_PARAMS: dict[str, st.SearchStrategy[str]] = {
    "gender": _or(st.sampled_from(["male", "female", "other"])),
    "gender:not": st.sampled_from(["male", "female"]),
    "gender:missing": st.sampled_from(["true", "false"]),
    "birthdate": _or(_prefixed(DATES[:5])),
    "family": _or(st.sampled_from(["hug", "hughes", "HUGHES-", "oka", "o'", "x"])),
    "family:exact": st.sampled_from(FAMILIES + ["hughes"]),
    "name:contains": st.sampled_from(["ghe", "kaf", "-b", "'n"]),
    "identifier": _or(_token(IDENTS)),
    "identifier:not": _token(IDENTS),
    "active": st.sampled_from(["true", "false"]),
    "general-practitioner": st.sampled_from(["Organization/o1", "o2", "Organization/o3"]),
    "general-practitioner:missing": st.sampled_from(["true", "false"]),
    "_id": _or(st.sampled_from(PATIENT_IDS)),
}
FLAG_PARAMS: dict[str, st.SearchStrategy[str]] = {
    "status": _or(st.sampled_from(["active", "inactive"])),
    "code": _or(_token(CODES)),
    "code:not": _token(CODES),
    "date": _or(_prefixed(DATES)),
    "date:missing": st.sampled_from(["true", "false"]),
    "patient": st.sampled_from([f"Patient/{p}" for p in PATIENT_IDS] + ["pa", "zz"]),
}


def _query(params: dict[str, st.SearchStrategy[str]]) -> st.SearchStrategy[list[tuple[str, str]]]:
    names = st.lists(st.sampled_from(sorted(params)), min_size=1, max_size=3)
    return names.flatmap(lambda ns: st.tuples(*(st.tuples(st.just(n), params[n]) for n in ns))
                         ).map(list)


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list[dict[str, Any]], str, list[tuple[str, str]]]:
    pool = [draw(patients(pid)) for pid in PATIENT_IDS]
    pool += [draw(flags(f"f{n}")) for n in range(draw(st.integers(0, 5)))]
    rtype = draw(st.sampled_from(["Patient", "Flag"]))
    query = draw(_query(PATIENT_PARAMS if rtype == "Patient" else FLAG_PARAMS))
    return pool, rtype, query


async def _sql(url: str, pool: list[dict[str, Any]], rtype: str,
               query: list[tuple[str, str]]) -> set[str]:
    db = Database(url)
    try:
        async with db.unit_of_work() as uow:
            for table in (t.resources, t.resource_history, *t.INDEX_TABLES):
                await uow.connection.execute(delete(table))
        await load(db, [dict(r) for r in pool])
        return await sql_ids(db, rtype, query)
    finally:
        await db.close()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=scenario())
def test_sql_and_matcher_agree(migrated_url: str, case: Any) -> None:
    pool, rtype, query = case
    expected = memory_ids([dict(r) for r in pool], rtype, query)
    found = run_sync(lambda: _sql(migrated_url, pool, rtype, query))
    assert found == expected, (rtype, query)
