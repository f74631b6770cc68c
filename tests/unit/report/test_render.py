"""Writing a report folder from hand-made MeasureReports: CSV, PNG and one self-contained page."""

from __future__ import annotations

import base64
import csv
from datetime import UTC, datetime
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image

from eolc_fhir.report import plots
from eolc_fhir.report.build import ReportFiles, write_report
from eolc_fhir.report.model import MeasureInput
from eolc_fhir.report.page import PageHeader
from eolc_fhir.report.period import Quarter
from tests.unit.report.measure_reports import (
    measure_report,
    median_group,
    proportion_group,
    proportion_measure,
    two_group_measure,
)

Q3 = Quarter(2026, 3)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _inputs() -> list[MeasureInput]:
    hospital = proportion_measure("deaths-in-hospital", "Deaths in hospital")
    identified = two_group_measure("identified-before-death", "Identified <before> death")
    hospital_reports, identified_reports = {}, {}
    for n, quarter in enumerate(Q3.trailing(4)):
        hospital_reports[quarter] = measure_report(hospital, quarter, [proportion_group(
            4 + n, 10, practices={"Y01001": (3, 5), "Y01002": (1 + n, 5)},
            ages={"18-64": (1, 2), "85+": (3 + n, 8)})])
        first = proportion_group(0, 0) if n == 1 else proportion_group(6, 10)
        identified_reports[quarter] = measure_report(identified, quarter, [
            first, median_group(6, 30.0 + n)])
    return [MeasureInput(hospital, hospital_reports),
            MeasureInput(identified, identified_reports)]


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> ReportFiles:
    out = tmp_path_factory.mktemp("report") / "2026-Q3"
    header = PageHeader(Q3, "GP practice Riverside Surgery (Y01001)",
                        datetime(2026, 10, 2, 9, 30, tzinfo=UTC))
    steps: list[str] = []
    files = write_report(out, header, _inputs(), steps.append)
    assert steps == ["Deaths in hospital", "Identified <before> death"]
    return files


def test_each_measure_has_a_table_a_plot_and_the_page(written: ReportFiles) -> None:
    folder = written.page.parent
    assert sorted(p.name for p in folder.iterdir()) == [
        "deaths-in-hospital.csv", "deaths-in-hospital.png", "identified-before-death.csv",
        "identified-before-death.png", "index.html"]


def test_the_csv_holds_the_reports_counts(written: ReportFiles) -> None:
    with written.tables[0].open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 * (1 + 2 + 2)  # quarters x (total, practices, age bands)
    q3_total = rows[0]
    assert (q3_total["period"], q3_total["breakdown"], q3_total["denominator"],
            q3_total["numerator"], q3_total["score"], q3_total["unit"]) == (
        "2026-Q3", "total", "10", "7", "70.0", "%")
    hill = next(r for r in rows if r["period"] == "2026-Q3" and r["stratum"].endswith("(Y01002)"))
    assert (hill["numerator"], hill["denominator"], hill["score"]) == ("4", "5", "80.0")
    with written.tables[1].open(newline="") as f:
        days = [r for r in csv.DictReader(f) if r["group"] == "median days on the register"]
    assert [(r["period"], r["measure-population"], r["score"], r["unit"]) for r in days] == [
        ("2026-Q3", "6", "33.0", "days"), ("2026-Q2", "6", "32.0", "days"),
        ("2026-Q1", "6", "31.0", "days"), ("2025-Q4", "6", "30.0", "days")]


def test_the_plots_are_real_pngs(written: ReportFiles) -> None:
    for path in written.plots:
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000
        with Image.open(BytesIO(data)) as image:
            image.verify()
            assert image.format == "PNG" and image.size[0] >= 1000
    with Image.open(written.plots[1]) as two_groups, Image.open(written.plots[0]) as one:
        assert two_groups.size[1] > one.size[1]  # a row of plots per group


def test_the_page_is_self_contained_and_names_every_measure(written: ReportFiles) -> None:
    page = _Page()
    page.feed(written.page.read_text(encoding="utf-8"))
    page.close()
    text = " ".join(page.text)
    for words in ("Deaths in hospital", "Identified <before> death", "2026-Q3",
                  "2026-07-01 to 2026-09-30", "Riverside Surgery (Y01001)", "2026-10-02T09:30:00",
                  "of whom died in hospital", "A lower value is better.", "Hill <Top> & Vale"):
        assert words in text, words
    tags = [tag for tag, _ in page.tags]
    assert "script" not in tags and "link" not in tags
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    assert len(images) == 2
    for attrs, path in zip(images, written.plots, strict=True):
        src = attrs["src"] or ""
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]) == path.read_bytes()
        assert "total by quarter" in (attrs["alt"] or "")
    assert {attrs.get("href") for tag, attrs in page.tags if tag == "a"} >= {
        "#deaths-in-hospital", "deaths-in-hospital.csv", "identified-before-death.png"}


def test_a_measure_name_cannot_write_outside_the_folder(tmp_path: Path) -> None:
    measure = proportion_measure("x", "Odd")
    measure["url"] = "https://example.org/Measure/../../etc"
    reports = {Q3: measure_report(measure, Q3, [proportion_group(1, 2)])}
    files = write_report(tmp_path / "out", PageHeader(Q3, None, datetime.now(UTC)),
                         [MeasureInput(measure, reports), MeasureInput(measure, reports)])
    assert [p.name for p in files.tables] == ["etc.csv", "etc-2.csv"]
    assert all(p.parent == tmp_path / "out" for p in files.tables + files.plots)


def test_a_long_practice_name_is_shortened_on_the_plot_but_keeps_its_code() -> None:
    assert plots._short("Riverside Surgery (Y01001)") == "Riverside Surgery (Y01001)"
    long = "The Very Long Named Medical Practice of Upper and Lower Riverside (Y01001)"
    short = plots._short(long)
    assert len(short) <= 48 and short.endswith("... (Y01001)") and short.startswith("The Very")
