"""A synthetic region for search benchmarks: patients with their register entry and plan.

Per patient: Patient (NHS number, GP practice), register Flag (90% active),
advance care Plan, preferred-place Observation, and for half a CPR-decision Flag.
One GP practice (Organization, ODS code) per 500 patients. Rows are generated
and index-extracted in process and bulk-inserted straight into the tables
(no history rows: search never reads them).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import orjson
from sqlalchemy import insert, text

from eolc_fhir.fhir.nhs_number import check_digit
from eolc_fhir.search import SearchRegistry
from eolc_fhir.storage import tables as t
from eolc_fhir.storage.database import Database

__all__ = ["population", "bulk_load", "nhs_for", "practice_for", "PATIENTS_PER_PRACTICE"]

SCT = "http://snomed.info/sct"
NHS = "https://fhir.nhs.uk/Id/nhs-number"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
CONCEPTS = "https://eolc.example.org/fhir/CodeSystem/eolc-concepts"
PATIENTS_PER_PRACTICE = 500
_FAMILY = ["Jones", "Williams", "Davies", "Evans", "Thomas", "Roberts", "Hughes", "Lewis",
           "Okafor", "Patel", "Nowak", "Murphy"]
_GIVEN = ["Ada", "Bryn", "Cerys", "Dafydd", "Elin", "Ffion", "Gareth", "Hywel", "Iolo", "Jac"]
_T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z


def nhs_for(i: int) -> str:
    """The i-th valid NHS number of a deterministic sequence (modulus 11)."""
    base = 400_000_000 + i * 11  # distinct 9-digit stems; a stem whose check is 10 moves on
    while True:
        check = check_digit(str(base))
        if check is not None:
            return f"{base}{check}"
        base += 1


def practice_for(i: int) -> str:
    return f"prac-{i // PATIENTS_PER_PRACTICE}"


def _patient(i: int, rng: random.Random) -> dict[str, Any]:
    return {
        "resourceType": "Patient", "id": f"pat-{i}",
        "identifier": [{"system": NHS, "value": nhs_for(i)}],
        "name": [{"family": rng.choice(_FAMILY), "given": [rng.choice(_GIVEN)]}],
        "gender": rng.choice(["female", "male"]),
        "birthDate": f"{rng.randint(1925, 1975)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "address": [{"line": [f"{rng.randint(1, 200)} High Street"], "city": "Riverside",
                     "postalCode": f"RS{rng.randint(1, 9)} {rng.randint(1, 9)}AB"}],
        "generalPractitioner": [{"reference": f"Organization/{practice_for(i)}"}],
    }


def _flag(fid: str, i: int, code: str, status: str) -> dict[str, Any]:
    return {
        "resourceType": "Flag", "id": fid, "status": status,
        "code": {"coding": [{"system": SCT, "code": code}]},
        "subject": {"reference": f"Patient/pat-{i}"},
        "period": {"start": "2026-02-03"},
        "author": {"reference": f"Organization/{practice_for(i)}"},
    }


def _others(i: int) -> list[dict[str, Any]]:
    subject = {"reference": f"Patient/pat-{i}"}
    plan = {"resourceType": "CarePlan", "id": f"acp-{i}", "status": "active", "intent": "plan",
            "category": [{"coding": [{"system": SCT, "code": "736366004"}]}],
            "subject": subject, "created": "2026-02-03",
            "author": {"reference": f"Organization/{practice_for(i)}"}}
    place = {"resourceType": "Observation", "id": f"ppd-{i}", "status": "final",
             "code": {"coding": [{"system": CONCEPTS, "code": "preferred-place-of-death"}]},
             "subject": subject, "effectiveDateTime": "2026-03-01T11:00:00Z",
             "valueCodeableConcept": {"coding": [{"system": CONCEPTS, "code": "21"}]}}
    return [plan, place]


def population(n_patients: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for k in range((n_patients + PATIENTS_PER_PRACTICE - 1) // PATIENTS_PER_PRACTICE):
        yield {"resourceType": "Organization", "id": f"prac-{k}", "name": f"Practice {k}",
               "identifier": [{"system": ODS, "value": f"Y{k:05d}"}]}
    for i in range(n_patients):
        yield _patient(i, rng)
        yield _flag(f"reg-{i}", i, "526631000000108", "active" if i % 10 else "inactive")
        if i % 2 == 0:
            yield _flag(f"cpr-{i}", i, "450476008", "active")
        yield from _others(i)


_KINDS = (("tokens", t.idx_token), ("strings", t.idx_string), ("references", t.idx_reference),
          ("dates", t.idx_date), ("numbers", t.idx_number), ("quantities", t.idx_quantity),
          ("uris", t.idx_uri))


async def bulk_load(db: Database, resources: Iterator[dict[str, Any]], registry: SearchRegistry,
                    *, batch: int = 5000) -> int:
    """Insert resources and their index rows in large batches; returns how many."""
    n = 0
    chunk: list[dict[str, Any]] = []
    for resource in resources:
        chunk.append(resource)
        if len(chunk) >= batch:
            n += await _insert(db, chunk, registry, n)
            chunk = []
    if chunk:
        n += await _insert(db, chunk, registry, n)
    async with db.engine.connect() as conn:
        await conn.execute(text("ANALYZE"))
        await conn.commit()
    return n


async def _insert(db: Database, chunk: list[dict[str, Any]], registry: SearchRegistry,
                  offset: int) -> int:
    res_rows: list[dict[str, Any]] = []
    index: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in _KINDS}
    for n, resource in enumerate(chunk):
        last = _T0 + (offset + n) * 1000
        resource["meta"] = {"versionId": "1", "lastUpdated": "2026-01-01T00:00:00.000Z"}
        key = {"res_type": resource["resourceType"], "res_id": resource["id"]}
        res_rows.append({**key, "version": 1, "last_updated_us": last, "deleted": False,
                         "content": orjson.dumps(resource)})
        rows = registry.extract(resource)
        for name, _ in _KINDS:
            index[name].extend({**key, **_fields(row)} for row in getattr(rows, name))
    async with db.engine.begin() as conn:
        await conn.execute(insert(t.resources), res_rows)
        for name, table in _KINDS:
            if index[name]:
                await conn.execute(insert(table), index[name])
    return len(chunk)


def _fields(row: Any) -> dict[str, Any]:
    return {f: getattr(row, f) for f in row.__slots__}
