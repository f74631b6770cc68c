"""Where the figures come from: a MeasureReport per measure and quarter, from an evaluator."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from eolc_fhir.report.model import MeasureInput
from eolc_fhir.report.period import Quarter

__all__ = ["MeasureEvaluator", "gather", "measures_in", "TREND_QUARTERS"]

TREND_QUARTERS = 4
Json = dict[str, Any]


class MeasureEvaluator(Protocol):
    """Evaluates one measure over [start, end] (both days included), for the whole region
    or one GP practice (an Organization id), and returns an R4 MeasureReport."""

    async def __call__(self, measure_url: str, start: date, end: date,
                       practice_id: str | None) -> Json: ...


def measures_in(folder: Path) -> list[Json]:
    """The Measure resources shipped in a profiles folder, in file-name order."""
    found = [json.loads(path.read_text(encoding="utf-8"))
             for path in sorted(folder.glob("Measure-*.json"))]
    return [m for m in found if m.get("resourceType") == "Measure" and m.get("url")]


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
