"""Quarters: `YYYY-Qn` to first and last day, the quarters before, and refused spellings."""

from __future__ import annotations

from datetime import date

import pytest

from eolc_fhir.report.period import PeriodError, Quarter, parse_quarter


@pytest.mark.parametrize(("text", "start", "end"), [
    ("2026-Q1", date(2026, 1, 1), date(2026, 3, 31)),
    ("2026-Q2", date(2026, 4, 1), date(2026, 6, 30)),
    ("2026-Q3", date(2026, 7, 1), date(2026, 9, 30)),
    ("2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),
    (" 2028-q1 ", date(2028, 1, 1), date(2028, 3, 31)),
])
def test_a_quarter_runs_from_its_first_to_its_last_day(text: str, start: date, end: date) -> None:
    quarter = parse_quarter(text)
    assert (quarter.start, quarter.end) == (start, end)
    assert quarter.label == text.strip().upper()


def test_the_trend_is_the_quarter_and_the_three_before_across_a_new_year() -> None:
    assert [q.label for q in parse_quarter("2026-Q2").trailing(4)] == [
        "2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2"]
    assert Quarter(2025, 4).following() == Quarter(2026, 1)


@pytest.mark.parametrize("text", ["2026Q3", "2026-Q5", "2026-Q0", "26-Q1", "", "2026-07",
                                  "Q3-2026", "1899-Q4", "2026-Q3x"])
def test_anything_but_a_quarter_is_refused_with_the_expected_form(text: str) -> None:
    with pytest.raises(PeriodError, match="--period"):
        parse_quarter(text)
