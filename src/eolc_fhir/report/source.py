"""Where the figures come from: a MeasureReport per measure and quarter, from an evaluator."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, Protocol

from eolc_fhir.report.model import MeasureInput
from eolc_fhir.report.period import Quarter

__all__ = ["MeasureEvaluator", "gather", "TREND_QUARTERS"]

TREND_QUARTERS = 4
Json = dict[str, Any]


class MeasureEvaluator(Protocol):
    """Evaluates one measure over [start, end] (both days included), for the whole region
    or one GP practice (an Organization id), and returns an R4 MeasureReport."""

    async def __call__(self, measure_url: str, start: date, end: date,
                       practice_id: str | None) -> Json: ...


async def gather(measures: list[Json], period: Quarter, evaluate: MeasureEvaluator,
                 practice_id: str | None,
                 step: Callable[[str], None] = lambda _label: None) -> list[MeasureInput]:
    """Each measure's reports for the period and the three quarters before it."""
    inputs = []
    for measure in measures:
        reports = {}
        for quarter in period.trailing(TREND_QUARTERS):
            reports[quarter] = await evaluate(str(measure["url"]), quarter.start, quarter.end,
                                              practice_id)
            step(f"{measure.get('title') or measure['url']} {quarter.label}")
        inputs.append(MeasureInput(measure, reports))
    return inputs
