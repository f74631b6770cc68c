"""The console's measures page (/console/measures): a Measure's scores per quarter and per practice.

The page asks the public API, with the person's token, for the region's Measures
(``GET /Measure``) and then one summary ``$evaluate-measure`` per quarter shown,
all at once; the practice figures are the GP practice stratifier of the chosen
quarter's report. Summaries carry counts only, so the page never holds a
patient; a role the API refuses gets the API's refusal as the page.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx
from fastapi import APIRouter, Request
from starlette.responses import Response

from eolc_fhir.api.console import api_client, console_page, refused_page, signed_in_or_redirect
from eolc_fhir.api.console_session import PATH, Session
from eolc_fhir.api.deps import BaseUrl
from eolc_fhir.web.measures import (
    Quarter,
    group_views,
    measure_choices,
    parse_quarter,
    recent_quarters,
)

__all__ = ["router", "QUARTERS_SHOWN", "QUARTERS_OFFERED"]

router = APIRouter(include_in_schema=False)
QUARTERS_SHOWN = 8  # the chart per quarter: the chosen quarter and the seven before it
QUARTERS_OFFERED = 12  # the quarters the form offers: this one and the eleven before


def _form(request: Request, measures: list[dict[str, object]],
          offered: list[Quarter]) -> tuple[dict[str, str], str | None]:
    """The measure and quarter asked for (or the defaults), and what is wrong with them."""
    asked_measure = request.query_params.get("measure", "")[:64]
    asked_quarter = request.query_params.get("quarter", "")[:16]
    form = {"measure": asked_measure or (str(measures[0]["id"]) if measures else ""),
            "quarter": asked_quarter or offered[1].key}  # the last quarter that has ended
    if asked_measure and asked_measure not in {m["id"] for m in measures}:
        return form, "There is no such measure: choose one from the list."
    quarter = parse_quarter(asked_quarter) if asked_quarter else offered[1]
    if quarter is None or not Quarter(1900, 1) <= quarter <= offered[0]:
        return form, "Choose a quarter from the list (a year and quarter, such as 2026-Q3)."
    if quarter not in offered:  # an older one (a bookmark): offer it and the one before
        offered.extend(q for q in (quarter, quarter.back(1)) if q not in offered)
        offered.sort(reverse=True)
    return form, None


async def _evaluate(api: httpx.AsyncClient, measure_id: str,
                    quarters: list[Quarter]) -> list[httpx.Response]:
    """One summary report per quarter, asked concurrently (each is its own request)."""
    return list(await asyncio.gather(*(
        api.get(f"/Measure/{measure_id}/$evaluate-measure", params=q.period())
        for q in quarters)))


@router.get(PATH + "/measures")
async def measures(request: Request, base: BaseUrl) -> Response:
    """The form (measure, quarter), then a chart and a table per quarter and per practice."""
    session = signed_in_or_redirect(request, base)
    if isinstance(session, Response):
        return session
    started = time.perf_counter()
    offered = recent_quarters(datetime.now(UTC).date(), QUARTERS_OFFERED)
    async with api_client(request, base, session.token) as api:
        listed = await api.get("/Measure", params={"_count": "100"})
        if listed.status_code != 200:
            return refused_page(request, session, listed)
        choices = measure_choices(listed.json())
        form, error = _form(request, choices, offered)
        chosen = parse_quarter(form["quarter"])
        if error or chosen is None or not choices:
            return _page(request, session, choices, offered, form,
                         error or "No measure is published.", 400 if error else 200)
        shown = sorted(chosen.back(n) for n in range(QUARTERS_SHOWN))
        answers = await _evaluate(api, form["measure"], shown)
    refused = next((a for a in answers if a.status_code != 200), None)
    if refused is not None:
        return refused_page(request, session, refused)
    measure = next(m for m in choices if m["id"] == form["measure"])
    groups = group_views(measure["resource"], shown, [a.json() for a in answers], chosen)
    response = _page(request, session, choices, offered, form, None, 200, measure=measure,
                     groups=groups, chosen=chosen,
                     period=f"{shown[0].label} to {shown[-1].label}")
    # how long the page took, most of it the evaluations: visible in a browser's tools
    response.headers["server-timing"] = \
        f"measures;dur={(time.perf_counter() - started) * 1000:.0f}"
    return response


def _page(request: Request, session: Session, choices: list[dict[str, object]],
          offered: list[Quarter], form: dict[str, str], error: str | None, status: int,
          **found: object) -> Response:
    context: dict[str, object] = {"measure": None, "groups": [], "chosen": None, "period": ""}
    context.update(found)
    return console_page(request, "console_measures.html", status, session, measures=choices,
                        quarters=offered, form=form, error=error, **context)
