"""The measures page's pure parts: quarters and chart scales (web/measures.py, web/charts.py)."""

from __future__ import annotations

from eolc_fhir.web.charts import bar_chart, nice_top
from eolc_fhir.web.measures import Figure, Quarter, parse_quarter


def test_quarters_and_scales() -> None:
    assert parse_quarter("2026-Q3") == Quarter(2026, 3)
    assert parse_quarter("2026-Q5") is None and parse_quarter("26-Q1") is None
    assert Quarter(2026, 1).back(1) == Quarter(2025, 4)
    assert Quarter(2024, 4).period() == {"periodStart": "2024-10-01",
                                         "periodEnd": "2024-12-31"}
    assert Quarter(2026, 1).period()["periodEnd"] == "2026-03-31"
    assert [nice_top(v) for v in (0.5, 7, 124, 250, 999)] == [1, 10, 200, 250, 1000]


def test_bars_are_drawn_to_scale_and_an_empty_one_says_so() -> None:
    items = [Figure("2026 Q2", (1, 1, 1), 100.0), Figure("2026 Q3", (8, 8, 2), 25.0, True),
             Figure("2026 Q4", (0, 0, 0), None)]
    chart = bar_chart(items, "%", vertical=True, title="t")
    assert chart is not None and chart.vertical
    full, quarter, empty = chart.bars
    assert full.height == 200 and quarter.height == 50 and empty.height == 0
    assert full.y + full.height == quarter.y + quarter.height  # one baseline
    assert (quarter.value, quarter.chosen, empty.value) == ("25.0%", True, "none")
    assert [t.text for t in chart.ticks] == ["0%", "25%", "50%", "75%", "100%"]
    rows = bar_chart([Figure("no GP practice recorded", (3,), 124.0)], "days",
                     vertical=False, title="t")
    assert rows is not None and rows.bars[0].x > 7 * len("no GP practice recorded")
    assert rows.ticks[-1].text == "200" and rows.bars[0].value == "124 d"
    assert bar_chart([], "%", vertical=True, title="t") is None
