"""Reading MeasureReports: counts by population code, scores in per cent or days, strata."""

from __future__ import annotations

import pytest

from eolc_fhir.report.model import TOTAL, MeasureInput, measure_key, measure_view
from eolc_fhir.report.period import Quarter
from eolc_fhir.report.tables import table_header, table_rows
from tests.unit.report.measure_reports import (
    measure_report,
    median_group,
    proportion_group,
    proportion_measure,
    two_group_measure,
)

Q3 = Quarter(2026, 3)


def test_a_proportion_shows_counts_and_per_cent_for_the_total_and_each_stratum() -> None:
    measure = proportion_measure("deaths-in-hospital", "Deaths in hospital")
    group = proportion_group(5, 8, practices={"Y01001": (3, 4), "Y01002": (2, 4)},
                             ages={"85+": (1, 2)})
    view = measure_view(MeasureInput(measure, {Q3: measure_report(measure, Q3, [group])}))
    total = view.total(Q3, 0)
    assert total is not None and total.counts == {
        "initial-population": 8, "denominator": 8, "numerator": 5}
    assert total.score == pytest.approx(62.5)
    assert view.groups[0].proportion and view.groups[0].unit == "%"
    assert view.breakdowns(0) == ["GP practice", "age band"]
    assert view.practice_breakdown(0) == "GP practice"
    practices = {r.stratum: (r.counts["numerator"], r.score)
                 for r in view.select(Q3, 0, "GP practice")}
    assert practices == {"Riverside Surgery (Y01001)": (3, 75.0),
                         "Hill <Top> & Vale (Y01002)": (2, 50.0)}
    assert view.improvement == "decrease" and measure_key(measure) == "deaths-in-hospital"


def test_a_second_group_in_days_keeps_its_unit_and_no_score_is_not_zero() -> None:
    measure = two_group_measure("identified-before-death", "Identified before death")
    measure["group"][1]["id"] = "days-on-register"
    report = measure_report(measure, Q3, [proportion_group(0, 0), median_group(4, 37.5)])
    view = measure_view(MeasureInput(measure, {Q3: report}))
    assert [(g.label, g.key, g.proportion, g.unit) for g in view.groups] == [
        ("Identified before death", "Identified before death", True, "%"),
        ("median days on the register", "days-on-register", False, "days")]
    assert [row[1] for row in table_rows(view)] == [
        "Identified before death", "days-on-register"]  # the table names a group by its id
    first, second = view.total(Q3, 0), view.total(Q3, 1)
    assert first is not None and first.score is None  # nobody died: no score, not 0%
    assert second is not None and second.score == 37.5
    assert second.counts == {"measure-population": 4}


def test_a_score_sent_in_per_cent_is_not_multiplied_again() -> None:
    measure = proportion_measure("m", "M")
    group = proportion_group(1, 4)
    group["measureScore"] = {"value": 25, "unit": "%"}
    view = measure_view(MeasureInput(measure, {Q3: measure_report(measure, Q3, [group])}))
    total = view.total(Q3, 0)
    assert total is not None and total.score == 25


def test_the_table_has_every_quarter_newest_first_with_the_total_before_the_strata() -> None:
    measure = proportion_measure("deaths-in-hospital", "Deaths in hospital")
    q2 = Q3.previous()
    reports = {q2: measure_report(measure, q2, [proportion_group(1, 3)]),
               Q3: measure_report(measure, Q3, [proportion_group(
                   2, 3, practices={"Y01001": (2, 3)})])}
    view = measure_view(MeasureInput(measure, reports))
    assert table_header(view) == ["period", "group", "breakdown", "stratum",
                                  "initial-population", "denominator", "numerator", "score",
                                  "unit"]
    title = "Deaths in hospital"
    assert table_rows(view) == [
        ["2026-Q3", title, TOTAL, "all", "3", "3", "2", "66.7", "%"],
        ["2026-Q3", title, "GP practice", "Riverside Surgery (Y01001)", "3", "3", "2", "66.7",
         "%"],
        ["2026-Q2", title, TOTAL, "all", "3", "3", "1", "33.3", "%"]]
