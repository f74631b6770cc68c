"""`eolc-fhir report --practice ODS`: the code is resolved to the practice's Organization in
the database (on both engines), and that id is the subject of every evaluation."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from eolc_fhir.config import Settings
from eolc_fhir.report.cli import ReportError, run_report
from eolc_fhir.report.period import Quarter
from eolc_fhir.services.resources import crud
from eolc_fhir.services.startup import build_context, close_context
from tests.unit.report.measure_reports import (
    ODS,
    measure_report,
    proportion_group,
    proportion_measure,
)

Q3 = Quarter(2026, 3)
MEASURE = proportion_measure("deaths-in-hospital", "Deaths in hospital")


def _settings(url: str) -> Settings:
    return Settings(database_url=url, run_migrations=False, run_dispatcher=False,
                    insecure_dev=True)


@pytest.fixture
async def practices_url(migrated_url: str) -> str:
    ctx = await build_context(_settings(migrated_url))
    try:
        for org_id, name, code in (("prac-1", "Riverside Surgery", "Y01001"),
                                   ("prac-2", "Hill Top", "Y01002")):
            await crud.update(ctx, {"resourceType": "Organization", "id": org_id, "name": name,
                                    "identifier": [{"system": ODS, "value": code}]}, org_id)
    finally:
        await close_context(ctx)
    return migrated_url


class _Evaluations:
    """Stands in for the measures service: records what it was asked, answers by hand."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, date, date, str | None]] = []

    def __call__(self, _ctx: Any) -> Any:
        async def evaluate(url: str, start: date, end: date, practice: str | None) -> Any:
            self.asked.append((url, start, end, practice))
            return measure_report(MEASURE, Q3, [proportion_group(1, 2)])
        return evaluate


async def test_a_practice_is_found_by_its_ods_code(practices_url: str, tmp_path: Path) -> None:
    evaluations = _Evaluations()
    files = await run_report(_settings(practices_url), Q3, "Y01002", tmp_path / "out",
                             evaluator=evaluations, measures=[MEASURE])
    assert [(start, end, practice) for _, start, end, practice in evaluations.asked] == [
        (q.start, q.end, "prac-2") for q in Q3.trailing(4)]
    assert "GP practice Hill Top (Y01002)" in files.page.read_text(encoding="utf-8")


async def test_an_unknown_practice_is_an_error_and_writes_nothing(
        practices_url: str, tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="--practice Y09999: no Organization"):
        await run_report(_settings(practices_url), Q3, "Y09999", tmp_path / "out",
                         evaluator=_Evaluations(), measures=[MEASURE])
    assert not (tmp_path / "out").exists()
