"""The measures page's pure parts: quarters and chart scales (web/measures.py, web/charts.py)."""

from __future__ import annotations

from eolc_fhir.web.charts import nice_top
from eolc_fhir.web.measures import Quarter, parse_quarter


def test_quarters_and_scales() -> None:
    assert parse_quarter("2026-Q3") == Quarter(2026, 3)
    assert parse_quarter("2026-Q5") is None and parse_quarter("26-Q1") is None
    assert Quarter(2026, 1).back(1) == Quarter(2025, 4)
    assert Quarter(2024, 4).period() == {"periodStart": "2024-10-01",
                                         "periodEnd": "2024-12-31"}
    assert Quarter(2026, 1).period()["periodEnd"] == "2026-03-31"
    assert [nice_top(v) for v in (0.5, 7, 124, 250, 999)] == [1, 10, 200, 250, 1000]
