"""`eolc-fhir report` end to end, on both engines: a small cohort stored through the write
path, the command run as a user runs it, and every file checked against the MeasureReports
the measures service gives for the same quarters."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Awaitable, Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from eolc_fhir.cli import main
from eolc_fhir.config import Settings
from eolc_fhir.report.cli import AUDIT_CLIENT
from eolc_fhir.report.period import Quarter
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.measures.evaluate import (
    EvaluateRequest,
    active_measures,
    evaluate_measure,
)
from eolc_fhir.services.resources import crud
from eolc_fhir.services.startup import build_context, close_context
from eolc_fhir.storage.audit_repo import AuditQuery, AuditRecord
from tests.builders import make_patient, make_place_of_death, make_register_flag

Q3 = Quarter(2026, 3)
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
HOSPITAL, HOME = "10", "21"
PRACTICES = {"prac-a": ("Riverside Surgery", "Y01001"), "prac-b": ("Hill Top", "Y01002")}
# id, practice, born, died, actual place of death, on the register from (each case by hand)
PEOPLE = [
    ("p1", "prac-a", "1940-02-01", "2026-08-10T04:00:00Z", HOSPITAL, "2026-05-01"),
    ("p2", "prac-a", "1950-03-01", "2026-09-30T10:00:00Z", HOME, None),  # the last day
    ("p3", "prac-b", "1970-04-01", "2026-07-01T09:00:00Z", HOSPITAL, "2026-06-01"),
    ("p4", "prac-b", "1945-05-01", "2026-05-15T12:00:00Z", HOME, None),  # 2026-Q2
    ("p5", "prac-a", "1938-06-01", "2025-11-20T12:00:00Z", HOSPITAL, None),  # 2025-Q4
    ("p6", "prac-a", "1939-07-01", "2025-06-30T12:00:00Z", HOSPITAL, None),  # before the trend
    ("p7", "prac-b", "1944-08-01", None, None, "2026-01-10"),  # alive, on the register
]


def _nhs_number(n: int) -> str:
    """The n-th synthetic 999 number that passes the modulus-11 check."""
    for body in range(999_000_000 + n * 20, 999_000_000 + n * 20 + 20):
        digits = [int(d) for d in str(body)]
        check = 11 - sum(d * (10 - i) for i, d in enumerate(digits)) % 11
        if check < 10 or check == 11:
            return f"{body}{check % 11}"
    raise AssertionError("no check digit")


def _cohort() -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = [
        {"resourceType": "Organization", "id": org_id, "name": name,
         "identifier": [{"system": ODS, "value": code}]}
        for org_id, (name, code) in PRACTICES.items()]
    for n, (pid, practice, born, died, place, registered) in enumerate(PEOPLE):
        ref = {"reference": f"Patient/{pid}"}
        patient = make_patient(id=pid, birthDate=born,
                               generalPractitioner=[{"reference": f"Organization/{practice}"}])
        patient["identifier"][0]["value"] = _nhs_number(n)
        if died:
            patient["deceasedDateTime"] = died
            resources.append(make_place_of_death(
                id=f"{pid}-died", subject=ref, effectiveDateTime=died,
                valueCodeableConcept={"coding": [{
                    "system": "https://eolc.example.org/fhir/CodeSystem/eolc-place-type",
                    "code": place}]}))
        resources.insert(2, patient)
        if registered:
            resources.append(make_register_flag(id=f"{pid}-register", subject=ref,
                                                period={"start": registered},
                                                author={"reference": f"Organization/{practice}"}))
    return resources


def _with_context(url: str, work: Callable[[ServerContext], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        ctx = await build_context(Settings(database_url=url, run_dispatcher=False))
        try:
            return await work(ctx)
        finally:
            await close_context(ctx)

    return asyncio.run(run())


async def _store(ctx: ServerContext) -> None:
    for resource in _cohort():
        await crud.update(ctx, resource, resource["id"])


async def _expected(ctx: ServerContext) -> dict[str, Any]:
    """The service's own MeasureReport of each measure for 2026-Q3, by measure name."""
    found: dict[str, Any] = {}
    for measure in await active_measures(ctx):
        request = EvaluateRequest(Q3.start.isoformat(), Q3.end.isoformat(),
                                  measure_url=measure["url"], report_type="population")
        found[measure["url"].rsplit("/", 1)[-1]] = {
            "title": measure["title"], "report": (await evaluate_measure(ctx, request)).report}
    return found


async def _service_view(ctx: ServerContext) -> tuple[dict[str, Any], list[AuditRecord]]:
    """The service's MeasureReports of 2026-Q3, and the audit records of the command's runs."""
    expected = await _expected(ctx)
    async with ctx.db.unit_of_work(write=False) as uow:
        return expected, await uow.audit.search(AuditQuery(clients=[AUDIT_CLIENT]))


@pytest.fixture
def cohort_url(migrated_url: str) -> str:
    _with_context(migrated_url, _store)
    return migrated_url


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _population_counts(part: dict[str, Any]) -> dict[str, str]:
    return {p["code"]["coding"][0]["code"]: str(p["count"]) for p in part["population"]}


def _strata(group: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    """A stratifier's strata by the ODS code (practices) or text (age bands) of their value."""
    stratifier = next(s for s in group.get("stratifier", []) if s["code"][0]["text"] == name)
    return {(s["value"].get("coding") or [{}])[0].get("code") or s["value"]["text"]: s
            for s in stratifier["stratum"]}


def _check_region(rows: list[dict[str, str]], report: dict[str, Any]) -> None:
    """Every count of the quarter in the CSV is the service's: totals, practices, age bands."""
    mine = [r for r in rows if r["period"] == Q3.label]
    for g, group in enumerate(report["group"]):
        total = [r for r in mine if r["breakdown"] == "total"][g]
        assert {k: total[k] for k in _population_counts(group)} == _population_counts(group)
        lines = [r for r in mine if r["group"] == total["group"]]
        for name in ("GP practice", "age band"):
            strata = _strata(group, name)
            assert len([r for r in lines if r["breakdown"] == name]) == len(strata)
            for key, stratum in strata.items():
                row = next(r for r in lines if r["breakdown"] == name
                           and (r["stratum"] == key or r["stratum"].endswith(f"({key})")))
                assert {k: row[k] for k in _population_counts(stratum)} == \
                    _population_counts(stratum), (name, key)


def _check_practice(rows: list[dict[str, str]], region: dict[str, Any], ods: str) -> None:
    """A practice's own report of the quarter counts what the region's report gives that
    practice's stratum (zero when it had none)."""
    mine = [r for r in rows if r["period"] == Q3.label and r["breakdown"] == "total"]
    for g, group in enumerate(region["group"]):
        stratum = _strata(group, "GP practice").get(ods)
        for code in _population_counts(group):
            wanted = _population_counts(stratum)[code] if stratum else "0"
            assert mine[g][code] == wanted, (g, code)


class _Names(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.images = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.images += tag == "img"

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _check_files(out: Path, expected: dict[str, Any]) -> str:
    """Each measure's CSV and PNG, and a page naming them all; returns the page's text."""
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{n}.csv" for n in expected] + [f"{n}.png" for n in expected] + ["index.html"])
    for name in expected:
        data = (out / f"{name}.png").read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
        with Image.open(out / f"{name}.png") as image:
            image.verify()
    page = _Names()
    page.feed((out / "index.html").read_text(encoding="utf-8"))
    page.close()
    text = " ".join(page.text)
    assert all(m["title"] in text for m in expected.values())
    assert page.images == len(expected) == 7
    return text


def test_the_region_report_holds_the_services_figures(
        cohort_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    region = tmp_path / "region"
    assert main(["report", "--period", "2026-Q3", "--out", str(region),
                 "--database-url", cohort_url]) == 0
    assert f"report 2026-Q3: 7 measures; open {region / 'index.html'}" in capsys.readouterr().out
    expected, audits = _with_context(cohort_url, _service_view)
    assert "the whole region" in _check_files(region, expected)
    for name, measure in expected.items():
        _check_region(_csv(region / f"{name}.csv"), measure["report"])

    # By hand: 2026-Q3 had three adult deaths (p1, p2, p3), two in hospital (p1 of
    # Riverside, p3 of Hill Top); 2026-Q2 one, at home; 2026-Q1 none; 2025-Q4 one, in
    # hospital.
    rows = [r for r in _csv(region / "deaths-in-hospital.csv") if r["breakdown"] != "age band"]
    assert [(r["period"], r["stratum"], r["denominator"], r["numerator"], r["score"])
            for r in rows] == [
        ("2026-Q3", "all", "3", "2", "66.7"),
        ("2026-Q3", "Hill Top (Y01002)", "1", "1", "100.0"),
        ("2026-Q3", "Riverside Surgery (Y01001)", "2", "1", "50.0"),
        ("2026-Q2", "all", "1", "0", "0.0"),
        ("2026-Q2", "Hill Top (Y01002)", "1", "0", "0.0"),
        ("2026-Q1", "all", "0", "0", ""),
        ("2025-Q4", "all", "1", "1", "100.0"),
        ("2025-Q4", "Riverside Surgery (Y01001)", "1", "1", "100.0")]
    assert [(a.interaction, a.status, a.query, len(a.resources)) for a in audits] == [
        ("operation", 200, "period=2026-07-01%2F2026-09-30", 7)]
    assert "Measure/deaths-in-hospital" in audits[0].resources


# The practice is found through the search index and passed to the service as the subject,
# both exercised on both engines by their own tests; here the command's use of them.
@pytest.mark.engines("sqlite")
def test_a_practice_report_counts_that_practice_alone(
        cohort_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    practice = tmp_path / "practice"
    assert main(["report", "--period", "2026-q3", "--practice", "y01002", "--out",
                 str(practice), "--database-url", cohort_url, "--quiet"]) == 0
    expected, audits = _with_context(cohort_url, _service_view)
    assert "GP practice Hill Top (Y01002)" in _check_files(practice, expected)
    for name, measure in expected.items():
        _check_practice(_csv(practice / f"{name}.csv"), measure["report"], "Y01002")
    # By hand: Hill Top's deaths are p3 (2026-Q3, hospital) and p4 (2026-Q2, home).
    totals = [(r["period"], r["denominator"], r["numerator"])
              for r in _csv(practice / "deaths-in-hospital.csv") if r["breakdown"] == "total"]
    assert totals == [("2026-Q3", "1", "1"), ("2026-Q2", "1", "0"), ("2026-Q1", "0", "0"),
                      ("2025-Q4", "0", "0")]
    assert [a.query for a in audits] == [
        "period=2026-07-01%2F2026-09-30&subject=Organization%2Fprac-b"]

    unknown = tmp_path / "unknown"
    assert main(["report", "--period", "2026-Q3", "--practice", "Y09999", "--out", str(unknown),
                 "--database-url", cohort_url]) == 2
    assert "--practice Y09999: no Organization with this ODS code" in capsys.readouterr().err
    assert not unknown.exists()

    # A Measure a region added that the service cannot read stops the report, naming it.
    _with_context(cohort_url, _store_unreadable_measure)
    assert main(["report", "--period", "2026-Q3", "--out", str(unknown),
                 "--database-url", cohort_url]) == 2
    assert f"error: {BROKEN}: Measure/aaa-broken cannot be evaluated" in capsys.readouterr().err
    assert not unknown.exists()


BROKEN = "https://eolc.example.org/fhir/Measure/aaa-broken"


async def _store_unreadable_measure(ctx: ServerContext) -> None:
    population = {"code": {"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/measure-population",
        "code": "initial-population"}]},
        "criteria": {"language": "application/x-fhir-query", "expression": "Patient?nonsense=1"}}
    await crud.update(ctx, {"resourceType": "Measure", "id": "aaa-broken", "url": BROKEN,
                            "status": "active", "group": [{"population": [population]}]},
                      "aaa-broken")
