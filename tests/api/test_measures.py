"""$evaluate-measure over a hand-built cohort (tests/api/measure_cohort.py), both engines.

The cohort is loaded once per engine (module-scoped app); every expected count below is
worked out by hand from the people written out in the cohort, and every answer is
checked against the R4 MeasureReport model.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio

from eolc_fhir.config import Settings
from eolc_fhir.fhir.models import model_class
from tests.api.measure_cohort import PERIOD, cohort
from tests.api.module_app import engine_name, module_client, module_database
from tests.builders import BASE

__all__ = ["engine_name"]  # a fixture (module scope)

pytestmark = pytest.mark.asyncio(loop_scope="module")
FHIR = "application/fhir+json"
MEASURES = f"{BASE}/Measure"


@pytest.fixture(scope="module")
def cohort_url(engine_name: str, request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from module_database(engine_name, request, tmp_path_factory, "measures")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(cohort_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with module_client(cohort_url, cohort(), headers={"Content-Type": FHIR}) as http:
        yield http


async def _evaluate(client: httpx.AsyncClient, measure: str, **params: str) -> dict[str, Any]:
    response = await client.get(f"/Measure/{measure}/$evaluate-measure",
                                params={**PERIOD, **params})
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    model_class("MeasureReport").model_validate(report)  # a valid R4 MeasureReport
    assert report["status"] == "complete"
    assert report["measure"] == f"{MEASURES}/{measure}"
    assert report["period"] == {"start": "2026-07-01", "end": "2026-09-30"}
    return report


def _counts(group: dict[str, Any]) -> list[int]:
    return [p["count"] for p in group["population"]]


def _score(group: dict[str, Any]) -> float | None:
    return group.get("measureScore", {}).get("value")


def _strata(group: dict[str, Any], n: int) -> dict[str, list[int]]:
    return {s["value"]["text"]: [p["count"] for p in s["population"]]
            for s in group["stratifier"][n]["stratum"]}


# Adults who died in 2026-Q3: d1 d2 d3 d4 d5 d6 d10 d11 = 8 (d7 before, d8 after, d9 is 16).
PROPORTIONS = [
    # hospital: d1, d6 (d10 has no place recorded)
    ("deaths-in-hospital", [8, 8, 2], 0.25),
    # home or other residence or care home: d2 (21), d3 (41), d5 (22), d11 (21)
    ("deaths-in-usual-place-of-residence", [8, 8, 4], 0.5),
    # first choice before death: d1 d2 d3 d5 d11 (d4's came after death); achieved: d2,
    # d5 (her latest first choice), d11 -- not d1 (hospital), not d3 (second choice only)
    ("preferred-place-achieved", [8, 5, 3], 0.6),
    # register entry started before death: d1 d2 d4 d6 d10 d11 (d3's came after, d5 none)
    ("identified-before-death", [8, 8, 6], 0.75),
    # plan created before death: d1 d4 d11 (d3's after death, d10's entered in error)
    ("acp-before-death", [8, 8, 3], 0.375),
    # 3+ emergency admissions starting in the 90 days up to death: d1 (3), d4 (4), d6 (3);
    # d2 has 2; d3 has 2 (one more 123 days before, one routine)
    ("emergency-admissions-last-90-days", [8, 8, 3], 0.375),
    # alive and on the register on 2026-09-30: l1 l2 l3 d8 (l4 joined later, l5 left,
    # l6 is 17); CPR decision in date: l1 and d8 (l2's review date has passed)
    ("cpr-decision-in-date", [4, 4, 2], 0.5),
]


@pytest.mark.parametrize(("measure", "counts", "score"), PROPORTIONS,
                         ids=[p[0] for p in PROPORTIONS])
async def test_summary_counts_match_the_hand_count(client: httpx.AsyncClient, measure: str,
                                                   counts: list[int], score: float) -> None:
    report = await _evaluate(client, measure)
    assert report["type"] == "summary"
    group = report["group"][0]
    assert _counts(group) == counts
    assert _score(group) == score
    assert [p["code"]["coding"][0]["code"] for p in group["population"]] == [
        "initial-population", "denominator", "numerator"]


async def test_median_days_on_the_register_before_death(client: httpx.AsyncClient) -> None:
    report = await _evaluate(client, "identified-before-death")
    days = report["group"][1]
    # d1 188, d2 60, d4 231, d6 10, d10 283, d11 1 -> 1 10 60 | 188 231 283 -> (60+188)/2
    assert _counts(days) == [8, 6, 6]
    assert days["measureScore"] == {"value": 124.0, "unit": "days",
                                    "system": "http://unitsofmeasure.org", "code": "d"}


async def test_stratified_by_practice_and_age_band_at_death(client: httpx.AsyncClient) -> None:
    group = (await _evaluate(client, "deaths-in-hospital"))["group"][0]
    # practice A: d1 d2 d3 d4 d5, hospital d1; practice B: d6 d10 d11, hospital d6
    assert _strata(group, 0) == {"Organization/prac-a": [5, 5, 1],
                                 "Organization/prac-b": [3, 3, 1]}
    codes = {s["value"]["text"]: s["value"]["coding"][0]["code"]
             for s in group["stratifier"][0]["stratum"]}
    assert codes == {"Organization/prac-a": "A0001", "Organization/prac-b": "B0002"}
    # at death: d1 86, d5 96 | d2 76, d6 81, d11 84 (the day before 85) | d3 66, d10 71 | d4 46
    assert _strata(group, 1) == {"85+": [2, 2, 1], "75-84": [3, 3, 1], "65-74": [2, 2, 0],
                                 "18-64": [1, 1, 0]}
    scores = {s["value"]["text"]: _score(s) for s in group["stratifier"][1]["stratum"]}
    assert scores == {"85+": 0.5, "75-84": round(1 / 3, 6), "65-74": 0.0, "18-64": 0.0}


async def test_cpr_ages_are_at_the_period_end(client: httpx.AsyncClient) -> None:
    group = (await _evaluate(client, "cpr-decision-in-date"))["group"][0]
    # on 2026-09-30: l1 76, l2 80 | l3 36 | d8 91; in date: l1, d8
    assert _strata(group, 1) == {"75-84": [2, 2, 1], "18-64": [1, 1, 0], "85+": [1, 1, 1]}
    assert _strata(group, 0) == {"Organization/prac-a": [3, 3, 2],
                                 "Organization/prac-b": [1, 1, 0]}


async def test_a_practice_subject_restricts_the_population(client: httpx.AsyncClient) -> None:
    report = await _evaluate(client, "deaths-in-hospital", subject="Organization/prac-b")
    assert report["subject"] == {"reference": "Organization/prac-b"}
    assert _counts(report["group"][0]) == [3, 3, 1]  # d6 d10 d11; hospital: d6
    report = await _evaluate(client, "preferred-place-achieved", subject="Organization/prac-a")
    assert _counts(report["group"][0]) == [5, 4, 2]  # d1..d5; with a choice d1 d2 d3 d5


async def test_subject_list_names_each_population(client: httpx.AsyncClient) -> None:
    report = await _evaluate(client, "deaths-in-hospital", reportType="subject-list")
    assert report["type"] == "subject-list"
    lists = {c["id"]: sorted(e["item"]["reference"] for e in c.get("entry", []))
             for c in report["contained"]}
    numerator = report["group"][0]["population"][2]
    assert numerator["subjectResults"]["reference"] == "#group0-numerator"
    assert lists["group0-numerator"] == ["Patient/d1", "Patient/d6"]
    assert lists["group0-initial-population"] == sorted(
        f"Patient/{p}" for p in ("d1", "d2", "d3", "d4", "d5", "d6", "d10", "d11"))


async def test_individual_reports_in_or_out_and_why(client: httpx.AsyncClient) -> None:
    report = await _evaluate(client, "preferred-place-achieved", subject="Patient/d3")
    assert report["type"] == "individual"
    group = report["group"][0]
    assert _counts(group) == [1, 1, 0]  # first choice hospice, died in a care home
    reasons = [p["extension"][0]["valueString"] for p in group["population"]]
    assert reasons[1].startswith("in: ")
    assert reasons[2].startswith("out: lacks ") and "actual-place-of-death" in reasons[2]
    assert "not in" not in report["text"]["div"]
    after = await _evaluate(client, "preferred-place-achieved", subject="Patient/d4")
    assert _counts(after["group"][0]) == [1, 0, 0]  # her preference came after death
    why = [p["extension"][0]["valueString"] for p in after["group"][0]["population"]]
    assert why[2] == "out: not in the denominator"
    living = await _evaluate(client, "deaths-in-hospital", subject="Patient/l1")
    assert _counts(living["group"][0]) == [0, 0, 0]


async def test_type_level_call_by_canonical_and_post_parameters(
        client: httpx.AsyncClient) -> None:
    url = f"{MEASURES}/acp-before-death"
    response = await client.get("/Measure/$evaluate-measure", params={**PERIOD, "measure": url})
    assert response.status_code == 200, response.text
    assert _counts(response.json()["group"][0]) == [8, 8, 3]
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "periodStart", "valueDate": "2026-07-01"},
        {"name": "periodEnd", "valueDate": "2026-09-30"},
        {"name": "reportType", "valueCode": "population"}]}
    posted = await client.post("/Measure/acp-before-death/$evaluate-measure",
                               content=orjson.dumps(body))
    assert posted.status_code == 200, posted.text
    assert _counts(posted.json()["group"][0]) == [8, 8, 3]


async def test_a_region_adds_a_measure_by_adding_a_resource(client: httpx.AsyncClient) -> None:
    measure = orjson.loads(Path("profiles/Measure-deaths-in-hospital.json").read_bytes())
    measure.update(id="deaths-in-hospice", url=f"{MEASURES}/deaths-in-hospice",
                   name="DeathsInHospice", title="Deaths in a hospice")
    numerator = measure["group"][0]["population"][2]["criteria"]
    numerator["expression"] = numerator["expression"].replace("|10", "|30")
    stored = await client.put("/Measure/deaths-in-hospice", content=orjson.dumps(measure))
    assert stored.status_code == 201, stored.text
    report = await _evaluate(client, "deaths-in-hospice")
    assert _counts(report["group"][0]) == [8, 8, 1]  # d4


async def test_measures_are_published_and_searchable(client: httpx.AsyncClient) -> None:
    found = await client.get("/Measure", params={"url": f"{MEASURES}/deaths-in-hospital"})
    assert found.status_code == 200
    assert [e["resource"]["id"] for e in found.json()["entry"]] == ["deaths-in-hospital"]
    statement = (await client.get("/metadata")).json()
    entry = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Measure")
    assert "evaluate-measure" in {op["name"] for op in entry["operation"]}


BAD = [
    ({"periodEnd": "2026-09-30"}, "periodStart"),
    ({**PERIOD, "reportType": "everything"}, "reportType"),
    ({**PERIOD, "subject": "Group/g1"}, "subject"),
    ({**PERIOD, "subject": "Organization/nowhere"}, "subject"),
    ({**PERIOD, "practitioner": "Practitioner/x"}, "practitioner"),
    ({**PERIOD, "colour": "blue"}, "colour"),
    ({"periodStart": "2026-07-01", "periodEnd": "soon"}, "periodEnd"),
    ({"periodStart": "2026-10-01", "periodEnd": "2026-09-30"}, "periodEnd"),
    ({**PERIOD, "reportType": "subject-list", "subject": "Patient/d1"}, "reportType"),
    ({**PERIOD, "reportType": "subject"}, "subject"),
]


@pytest.mark.parametrize(("params", "named"), BAD, ids=[b[1] + str(n) for n, b in enumerate(BAD)])
async def test_bad_parameters_are_400_naming_the_parameter(
        client: httpx.AsyncClient, params: dict[str, str], named: str) -> None:
    response = await client.get("/Measure/deaths-in-hospital/$evaluate-measure", params=params)
    assert response.status_code == 400, response.text
    issue = response.json()["issue"][0]
    assert issue["expression"] == [named]


async def test_unknown_measures_and_unreadable_criteria(client: httpx.AsyncClient) -> None:
    missing = await client.get("/Measure/nothing/$evaluate-measure", params=PERIOD)
    assert missing.status_code == 404
    by_url = await client.get("/Measure/$evaluate-measure",
                              params={**PERIOD, "measure": f"{MEASURES}/nothing"})
    assert by_url.status_code == 400 and by_url.json()["issue"][0]["expression"] == ["measure"]
    measure = orjson.loads(Path("profiles/Measure-acp-before-death.json").read_bytes())
    measure.update(id="broken", url=f"{MEASURES}/broken")
    measure["group"][0]["population"][2]["criteria"]["expression"] = \
        "CarePlan?created=lt{{%tomorrow}}"
    assert (await client.put("/Measure/broken", content=orjson.dumps(measure))).status_code == 201
    broken = await client.get("/Measure/broken/$evaluate-measure", params=PERIOD)
    assert broken.status_code == 400
    assert broken.json()["issue"][0]["expression"] == [
        "Measure.group[0].population[2].criteria"]


async def test_a_measure_given_whole_is_evaluated_without_being_stored(tmp_path: Path) -> None:
    """The interface a command-line report uses: evaluate_measure on a Measure read from
    profiles/, against a database that has never published it."""
    from eolc_fhir.search import SearchRegistry
    from eolc_fhir.services.context import ServerContext
    from eolc_fhir.services.measures.evaluate import EvaluateRequest, evaluate_measure
    from eolc_fhir.storage.database import Database
    from eolc_fhir.storage.migrate import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path}/m.db"
    db = Database(url)
    try:
        await upgrade(db)
        ctx = ServerContext(settings=Settings(database_url=url), db=db)
        ctx.search = SearchRegistry.load(Path("profiles"))
        measure = orjson.loads(Path("profiles/Measure-deaths-in-hospital.json").read_bytes())
        result = await evaluate_measure(ctx, EvaluateRequest(
            "2026-07-01", "2026-09-30", measure_resource=measure))
    finally:
        await db.close()
    assert result.measure_id == "deaths-in-hospital" and result.patients == []
    assert [p["count"] for p in result.report["group"][0]["population"]] == [0, 0, 0]
