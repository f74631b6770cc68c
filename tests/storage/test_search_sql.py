"""Search semantics on both engines: each query's ids, and the matcher agrees."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from eolc_fhir.storage.database import Database
from tests.builders import (
    NHS_NUMBER_SYSTEM,
    ODS_SYSTEM,
    SCT,
    make_care_plan,
    make_patient,
    make_register_flag,
)
from tests.storage.search_support import load, memory_ids, sql_ids

FLAG_CAT = "http://terminology.hl7.org/CodeSystem/flag-category"


def _population() -> list[dict[str, Any]]:
    org = {"resourceType": "Organization", "id": "gp1", "name": "Riverside Surgery",
           "identifier": [{"system": ODS_SYSTEM, "value": "Y01234"}]}
    org2 = {"resourceType": "Organization", "id": "gp2", "name": "Hill Practice",
            "identifier": [{"system": ODS_SYSTEM, "value": "Y09999"}]}
    p1 = make_patient(id="p1", name=[{"family": "Hughes", "given": ["Margaret"]}],
                      birthDate="1941-03-14",
                      generalPractitioner=[{"reference": "Organization/gp1"}])
    p2 = make_patient(id="p2", identifier=[{"system": NHS_NUMBER_SYSTEM, "value": "9658220142"}],
                      name=[{"family": "Hüghes-Brown", "given": ["Élodie"]}],
                      birthDate="1950", gender="female",
                      generalPractitioner=[{"reference": "Organization/gp2"}])
    p3 = make_patient(id="p3", identifier=[{"system": "urn:local", "value": "9658220142"}],
                      name=[{"family": "Okafor", "given": ["Ade"]}], birthDate="1960-07-01",
                      gender="male", generalPractitioner=[{"reference": "Organization/gp1"}])
    f1 = make_register_flag(id="f1", subject={"reference": "Patient/p1"},
                            period={"start": "2026-02-03"},
                            category=[{"coding": [{"system": FLAG_CAT, "code": "clinical"}]}])
    f2 = make_register_flag(id="f2", subject={"reference": "Patient/p2"}, status="inactive",
                            period={"start": "2025-01-01", "end": "2025-06-30"})
    f3 = make_register_flag(
        id="f3", subject={"reference": "Patient/p3"},
        code={"coding": [{"system": SCT, "code": "450476008"}], "text": "Not for CPR"},
        period={"start": "2026-03-01T10:00:00Z", "end": "2026-09-01T10:00:00Z"})
    cp1 = make_care_plan(id="cp1", subject={"reference": "Patient/p1"},
                         author={"reference": "Organization/gp1"})
    cp2 = make_care_plan(id="cp2", subject={"reference": "Patient/p3"}, status="draft",
                         author={"reference": "Organization/gp2"})
    obs = {"resourceType": "Observation", "id": "o1", "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
           "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2026-01-15T09:30:00Z",
           "valueQuantity": {"value": 72.5, "unit": "kg", "system": "http://unitsofmeasure.org",
                             "code": "kg"}}
    obs2 = {"resourceType": "Observation", "id": "o2", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
            "subject": {"reference": "Patient/p2"}, "effectiveDateTime": "2026-01-16",
            "valueQuantity": {"value": 100, "unit": "kg", "system": "http://unitsofmeasure.org",
                              "code": "kg"}}
    return [org, org2, p1, p2, p3, f1, f2, f3, cp1, cp2, obs, obs2]


CASES: list[tuple[str, list[tuple[str, str]], set[str]]] = [
    ("Patient", [("identifier", f"{NHS_NUMBER_SYSTEM}|9658220142")], {"p2"}),
    ("Patient", [("identifier", "9658220142")], {"p2", "p3"}),
    ("Patient", [("identifier", "|9658220142")], set()),
    ("Patient", [("identifier", "urn:local|")], {"p3"}),
    ("Patient", [("identifier:not", f"{NHS_NUMBER_SYSTEM}|9658220142")], {"p1", "p3"}),
    ("Patient", [("family", "hug")], {"p1", "p2"}),
    ("Patient", [("family", "HUGHES-B")], {"p2"}),
    ("Patient", [("given", "elo")], {"p2"}),
    ("Patient", [("family:exact", "Hughes")], {"p1"}),
    ("Patient", [("family:exact", "hughes")], set()),
    ("Patient", [("name:contains", "kaf")], {"p3"}),
    ("Patient", [("name", "ade,margaret")], {"p1", "p3"}),
    ("Patient", [("name", "hughes"), ("given", "margaret")], {"p1"}),
    ("Patient", [("birthdate", "1950")], {"p2"}),
    ("Patient", [("birthdate", "1950-06")], set()),
    ("Patient", [("birthdate", "ge1950-06-01")], {"p2", "p3"}),
    ("Patient", [("birthdate", "lt1950")], {"p1"}),
    ("Patient", [("birthdate", "le1950")], {"p1", "p2"}),
    ("Patient", [("birthdate", "gt1950")], {"p3"}),
    ("Patient", [("birthdate", "ne1941-03-14")], {"p2", "p3"}),
    ("Patient", [("birthdate", "sa1945"), ("birthdate", "eb1970")], {"p2", "p3"}),
    ("Patient", [("gender", "male")], {"p3"}),
    ("Patient", [("gender:missing", "true")], {"p1"}),
    ("Patient", [("general-practitioner", "Organization/gp1")], {"p1", "p3"}),
    ("Patient", [("general-practitioner", "gp2")], {"p2"}),
    ("Patient", [("general-practitioner:Organization", "gp2")], {"p2"}),
    ("Patient", [("general-practitioner", "https://eolc.example.org/fhir/Organization/gp2")],
     {"p2"}),
    ("Patient", [("_id", "p1,p3")], {"p1", "p3"}),
    ("Flag", [("patient", "Patient/p1")], {"f1"}),
    ("Flag", [("subject", "p2")], {"f2"}),
    ("Flag", [("status", "active")], {"f1", "f3"}),
    ("Flag", [("code", f"{SCT}|526631000000108"), ("status", "active")], {"f1"}),
    ("Flag", [("code:text", "not for")], {"f3"}),
    ("Flag", [("category", f"{FLAG_CAT}|clinical")], {"f1"}),
    ("Flag", [("category:missing", "true")], {"f2", "f3"}),
    ("Flag", [("date", "2025")], {"f2"}),
    ("Flag", [("date", "ge2026-01-01")], {"f1", "f3"}),
    ("Flag", [("date", "ap2026-03-01")], {"f1", "f3"}),
    ("Flag", [("date", "eb2026")], {"f2"}),
    ("Flag", [("date", "2026-03-01T10:00:00Z")], set()),
    ("CarePlan", [("author", "Organization/gp1")], {"cp1"}),
    ("CarePlan", [("status", "active,draft"), ("patient", "p3")], {"cp2"}),
    ("Observation", [("value-quantity", "72.5")], {"o1"}),
    ("Observation", [("value-quantity", "gt80|http://unitsofmeasure.org|kg")], {"o2"}),
    ("Observation", [("value-quantity", "100||kg")], {"o2"}),
    ("Observation", [("value-quantity", "ap70")], {"o1"}),
    ("Observation", [("date", "2026-01-16")], {"o2"}),
    ("Observation", [("date", "2026-01")], {"o1", "o2"}),
    ("Observation", [("date", "lt2026-01-15T09:30:01Z")], {"o1"}),
]

META_CASES: list[tuple[str, list[tuple[str, str]], set[str]]] = [
    ("Patient", [("_tag", "urn:t|vip")], {"m1"}),
    ("Patient", [("_tag:not", "urn:t|vip")], {"m2"}),
    ("Patient", [("_security", "R")], {"m2"}),
    ("Patient", [("_profile", "https://eolc.example.org/fhir/StructureDefinition/EolcPatient")],
     {"m1"}),
    ("Patient", [("_profile:below", "https://eolc.example.org/fhir/")], {"m1"}),
    ("Patient", [("_profile:above",
                  "https://eolc.example.org/fhir/StructureDefinition/EolcPatient/v2")], {"m1"}),
    ("Patient", [("_profile:above", "https://eolc.example.org/fhir/")], set()),
    ("Patient", [("_source:above", "urn:src:gp/extra")], {"m2"}),
    ("Patient", [("general-practitioner:identifier", "urn:ods|Y1")], {"m1"}),
    ("Patient", [("general-practitioner:missing", "true")], {"m2"}),
    ("Patient", [("address", "12 mill")], {"m1"}),
    ("Patient", [("address", "mill")], set()),  # prefix of a part, not of a word
    ("Patient", [("address:contains", "mill")], {"m1"}),
    ("Patient", [("address-postalcode", "rs1")], {"m1"}),
    ("Patient", [("telecom", "phone|0161")], {"m2"}),
    ("Patient", [("email", "a@b.org")], {"m1"}),
    ("Patient", [("_lastUpdated", "ge2023-11-14T22:13:20Z")], {"m1", "m2"}),
    ("Patient", [("_lastUpdated", "gt2023-11-14T22:13:20Z")], {"m2"}),
    ("Patient", [("_lastUpdated", "2023-11-14")], {"m1", "m2"}),
    ("Patient", [("deceased", "true")], {"m2"}),
]


def _meta_population() -> list[dict[str, Any]]:
    m1 = {"resourceType": "Patient", "id": "m1",
          "meta": {"tag": [{"system": "urn:t", "code": "vip"}],
                   "profile": ["https://eolc.example.org/fhir/StructureDefinition/EolcPatient"]},
          "generalPractitioner": [{"identifier": {"system": "urn:ods", "value": "Y1"}}],
          "address": [{"line": ["12 Mill Lane"], "postalCode": "RS1 4AB"}],
          "telecom": [{"system": "email", "value": "a@b.org"}]}
    m2 = {"resourceType": "Patient", "id": "m2",
          "meta": {"security": [{"system": "urn:s", "code": "R"}], "source": "urn:src:gp"},
          "telecom": [{"system": "phone", "value": "0161"}], "deceasedDateTime": "2026-01-01"}
    return [m1, m2]


CHAINS: list[tuple[str, list[tuple[str, str]], set[str]]] = [
    ("Flag", [("subject:Patient.identifier", f"{NHS_NUMBER_SYSTEM}|9658220142")], {"f2"}),
    ("Flag", [("patient.identifier", "9658220142")], {"f2", "f3"}),
    ("Flag", [("subject:identifier", "9658220142")], set()),
    ("Flag", [("patient.general-practitioner.identifier", f"{ODS_SYSTEM}|Y01234")],
     {"f1", "f3"}),
    ("CarePlan", [("subject:Patient.name", "okafor")], {"cp2"}),
    ("Patient", [("_has:Flag:patient:code", "526631000000108")], {"p1", "p2"}),
    ("Patient", [("_has:Flag:patient:status", "active"),
                 ("_has:CarePlan:patient:status", "draft")], {"p3"}),
    ("Organization", [("_has:Patient:general-practitioner:_has:Flag:patient:status",
                       "inactive")], {"gp2"}),
]


@pytest.fixture
async def db(migrated_url: str) -> AsyncIterator[Database]:
    database = Database(migrated_url)
    await load(database, _population())
    yield database
    await database.close()


async def test_queries(db: Database) -> None:
    population = _population()
    for rtype, params, expected in CASES:
        assert await sql_ids(db, rtype, params) == expected, (rtype, params)
        assert memory_ids(population, rtype, params) == expected, ("memory", rtype, params)


async def test_chains_and_has(db: Database) -> None:
    for rtype, params, expected in CHAINS:
        assert await sql_ids(db, rtype, params) == expected, (rtype, params)


async def test_meta_uri_and_modifiers(migrated_url: str) -> None:
    database = Database(migrated_url)
    try:
        await load(database, _meta_population())  # m1 at T0, m2 one second later
        for rtype, params, expected in META_CASES:
            assert await sql_ids(database, rtype, params) == expected, (rtype, params)
            mem = memory_ids(_meta_population_stamped(), rtype, params)
            assert mem == expected, ("memory", rtype, params)
    finally:
        await database.close()


def _meta_population_stamped() -> list[dict[str, Any]]:
    from tests.storage.search_support import _stamp

    out = _meta_population()
    for n, resource in enumerate(out):
        _stamp(resource, n)
    return out
