"""$evaluate-measure on a whole region: every Measure of profiles/, SQLite and PostgreSQL.

    python -m bench.measures_bench --engines sqlite,postgresql --patients 100000
    python -m bench.measures_bench --database-url sqlite+aiosqlite:///eolc.db   # data you have

Without ``--database-url`` a synthetic region is bulk-inserted (rows and index rows
straight into the tables, as bench/search_population.py does): per person a Patient
(GP practice, birth 1925-1995); a third died over the two years before 2026-12-01, with
an actual place of death that depends on whether they had a plan and a preference;
register entries, advance care plans, preferred places, CPR decisions, and emergency
admissions (more of them in the last 90 days of life). Then each Measure is evaluated
(summary for 2026-Q3, the service in-process, as the HTTP route calls it): the median of
``--repeat`` runs per Measure, plus one subject-list and one practice-restricted
summary. Goal (issue 14): each under 2 s at 100,000 patients.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.search_population import ODS, SCT, bulk_load, nhs_for
from eolc_fhir.config import DEFAULT_PROFILES_DIR, Settings
from eolc_fhir.search import SearchRegistry
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.measures.evaluate import active_measures, evaluate_measure
from eolc_fhir.services.measures.params import EvaluateRequest
from eolc_fhir.storage.database import Database
from eolc_fhir.storage.migrate import upgrade

BASE = "https://eolc.example.org/fhir"
CONCEPTS = f"{BASE}/CodeSystem/eolc-concepts"
PLACE = f"{BASE}/CodeSystem/eolc-place-type"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PRIORITY = "http://terminology.hl7.org/CodeSystem/v3-ActPriority"
PER_PRACTICE = 2000
_END = datetime(2026, 12, 1, tzinfo=UTC)
PERIOD = ("2026-07-01", "2026-09-30")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _person(i: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    pid, subject = f"pat-{i}", {"reference": f"Patient/pat-{i}"}
    patient: dict[str, Any] = {
        "resourceType": "Patient", "id": pid, "identifier": [
            {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs_for(i)}],
        "name": [{"family": "Evans", "given": ["Ada"]}],
        "birthDate": f"{rng.randint(1925, 1995)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "generalPractitioner": [{"reference": f"Organization/prac-{i // PER_PRACTICE}"}]}
    died = _END - timedelta(minutes=rng.randrange(730 * 24 * 60)) if rng.random() < 1 / 3 \
        else None
    on_register, has_plan = rng.random() < 0.6, rng.random() < 0.4
    start = (died or _END) - timedelta(days=rng.randint(5, 500))
    if died is not None:
        patient["deceasedDateTime"] = _iso(died)
    yield patient
    if on_register:
        yield _resource("Flag", f"reg-{i}", subject, status="active",
                        code={"coding": [{"system": SCT, "code": "526631000000108"}]},
                        period={"start": _iso(start)})
    if has_plan:
        yield _resource("CarePlan", f"acp-{i}", subject, status="active", intent="plan",
                        category=[{"coding": [{"system": SCT, "code": "736366004"}]}],
                        created=_iso(start + timedelta(days=3)))
    choice = rng.choice(["21", "30", "41", "10"]) if on_register and rng.random() < 0.7 \
        else None
    if choice:
        yield _observation(f"ppd-{i}", subject, "preferred-place-of-death", choice,
                           start + timedelta(days=1), rank=1)
    if on_register and rng.random() < 0.7:
        yield _resource("Flag", f"cpr-{i}", subject, status="active",
                        code={"coding": [{"system": SCT, "code": "450476008"}]},
                        period={"start": _iso(start), "end": _iso(start + timedelta(
                            days=rng.randint(30, 400)))})
    yield from _admissions(i, subject, died, rng)
    if died is not None:
        yield _observation(f"pod-{i}", subject, "actual-place-of-death",
                           _place(rng, choice, has_plan), died)


def _place(rng: random.Random, choice: str | None, has_plan: bool) -> str:
    if choice and rng.random() < (0.7 if has_plan else 0.5):
        return choice
    return rng.choices(["10", "21", "22", "30", "41", "42", "50"],
                       [54, 20, 2, 6, 8, 8, 2])[0]


def _admissions(i: int, subject: dict[str, Any], died: datetime | None,
                rng: random.Random) -> Iterator[dict[str, Any]]:
    end = died or _END
    count = rng.choice([0, 0, 1, 1, 2, 3, 4, 5]) if died else rng.choice([0, 0, 0, 1])
    for n in range(count):
        at = end - timedelta(days=rng.randint(1, 120 if died else 700))
        yield _resource("Encounter", f"adm-{i}-{n}", subject, status="finished",
                        **{"class": {"system": ACT, "code": rng.choice(["IMP", "EMER"])}},
                        priority={"coding": [{"system": PRIORITY, "code": "EM"}]},
                        period={"start": _iso(at)})


def _resource(rtype: str, rid: str, subject: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"resourceType": rtype, "id": rid, "subject": subject, **fields}


def _observation(oid: str, subject: dict[str, Any], code: str, place: str, at: datetime,
                 rank: int | None = None) -> dict[str, Any]:
    obs = _resource("Observation", oid, subject, status="final",
                    code={"coding": [{"system": CONCEPTS, "code": code}]},
                    effectiveDateTime=_iso(at),
                    valueCodeableConcept={"coding": [{"system": PLACE, "code": place}]})
    if rank is not None:
        obs["extension"] = [{"url": f"{BASE}/StructureDefinition/eolc-preference-rank",
                             "valuePositiveInt": rank}]
    return obs


def region(n: int, seed: int = 14) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for k in range((n + PER_PRACTICE - 1) // PER_PRACTICE):
        yield {"resourceType": "Organization", "id": f"prac-{k}", "name": f"Practice {k}",
               "identifier": [{"system": ODS, "value": f"Y{k:05d}"}]}
    for i in range(n):
        yield from _person(i, rng)


async def _load(url: str, n: int, registry: SearchRegistry) -> None:
    db = Database(url)
    try:
        await upgrade(db)
        start = time.perf_counter()
        loaded = await bulk_load(db, region(n), registry)
        print(f"  loaded {loaded:,} resources in {time.perf_counter() - start:.0f} s", flush=True)
    finally:
        await db.close()


async def _timed(ctx: ServerContext, request: EvaluateRequest) -> tuple[float, str]:
    start = time.perf_counter()
    report = (await evaluate_measure(ctx, request)).report
    seconds = time.perf_counter() - start
    pops = report["group"][0]["population"]
    return seconds, "/".join(str(p["count"]) for p in pops)


async def _measures(url: str, repeat: int, registry: SearchRegistry) -> list[dict[str, Any]]:
    db = Database(url)
    ctx = ServerContext(settings=Settings(database_url=url, base_url="http://bench"), db=db)
    ctx.search = registry
    rows = []
    try:
        for measure in await active_measures(ctx):
            runs = [EvaluateRequest(*PERIOD, measure_id=measure["id"])] * repeat
            runs += [EvaluateRequest(*PERIOD, measure_id=measure["id"],
                                     report_type="subject-list"),
                     EvaluateRequest(*PERIOD, measure_id=measure["id"],
                                     subject="Organization/prac-0")]
            timed = [await _timed(ctx, r) for r in runs]
            summary = [s for s, _ in timed[:repeat]]
            row = {"measure": measure["id"], "counts": timed[0][1],
                   "summary_s": round(statistics.median(summary), 3),
                   "summary_max_s": round(max(summary), 3),
                   "subject_list_s": round(timed[-2][0], 3),
                   "one_practice_s": round(timed[-1][0], 3)}
            print(f"  {row}", flush=True)
            rows.append(row)
    finally:
        await db.close()
    return rows


def _markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| engine | patients | measure | counts (first group) | summary s (median) | "
             "max | subject-list s | one practice s |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['engine']} | {r['patients']} | {r['measure']} | {r['counts']} | "
                     f"{r['summary_s']} | {r['summary_max_s']} | {r['subject_list_s']} | "
                     f"{r['one_practice_s']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", help="time the measures on this database as it is")
    args = parser.parse_args()
    registry = SearchRegistry.load(DEFAULT_PROFILES_DIR)
    rows: list[dict[str, Any]] = []
    if args.database_url:
        found = asyncio.run(_measures(args.database_url, args.repeat, registry))
        rows += [{"engine": args.database_url.split(":")[0], "patients": "?", **r}
                 for r in found]
    else:
        rows = _synthetic(args, registry)
    print(_markdown(rows))
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (out / f"{stamp}-measures.md").write_text(_markdown(rows) + "\n")


def _synthetic(args: argparse.Namespace, registry: SearchRegistry) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    pg = None
    with tempfile.TemporaryDirectory(prefix="eolc-measures-bench-") as tmp:
        try:
            for engine in args.engines.split(","):
                print(f"{engine} {args.patients:,} patients", flush=True)
                if engine == "sqlite":
                    url = f"sqlite+aiosqlite:///{tmp}/measures.db"
                else:
                    from tests._pg import start_pg_server

                    pg = start_pg_server()
                    url = pg.url(pg.create_database())
                asyncio.run(_load(url, args.patients, registry))
                # Measures are published by a server's start; here straight from profiles/.
                asyncio.run(_publish(url, registry))
                found = asyncio.run(_measures(url, args.repeat, registry))
                rows += [{"engine": engine, "patients": f"{args.patients:,}", **r}
                         for r in found]
        finally:
            if pg is not None:
                pg.stop()
    return rows


async def _publish(url: str, registry: SearchRegistry) -> None:
    import orjson

    measures = [orjson.loads(p.read_bytes())
                for p in sorted(DEFAULT_PROFILES_DIR.glob("Measure-*.json"))]
    db = Database(url)
    try:
        await bulk_load(db, iter(measures), registry)
    finally:
        await db.close()


if __name__ == "__main__":
    main()
