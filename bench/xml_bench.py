"""FHIR XML against FHIR JSON: read-by-id and create over HTTP, and the conversion itself.

    python -m bench.xml_bench [--duration 5] [--repeat 3] [--seed-count 500]

One ``eolc-fhir serve --insecure-dev`` (1 uvicorn worker, SQLite) is seeded with
synthetic Patients; wrk (16 connections) then measures, alternating within each
repeat: ``GET /Patient/{id}`` with ``Accept: application/fhir+json`` and with
``application/fhir+xml``, and ``POST /Patient`` of the same ~2 KB Patient as JSON and
as XML. The report gives the median run of each and the ratios XML / JSON (issue 16:
"the same speed order"). In-process, it also times the conversion alone per
resource (``fhir.xml.to_xml`` of the stored JSON, ``from_xml`` of that XML) next to
``orjson.loads`` of the JSON. Results: markdown under bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson

from bench.data import synthetic_patient
from bench.load import LoadResult, Scenario, run_load, wrk_available
from bench.run import seed
from bench.servers import start_eolc
from eolc_fhir.fhir.xml import from_xml, to_xml

__all__ = ["main"]

RESULTS = Path(__file__).resolve().parent / "results"
EXAMPLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "fhir-r4"
JSON_TYPE, XML_TYPE = "application/fhir+json", "application/fhir+xml"
CASES: list[tuple[str, Scenario, str]] = [
    ("read JSON", "read", JSON_TYPE), ("read XML", "read", XML_TYPE),
    ("create JSON", "create", JSON_TYPE), ("create XML", "create", XML_TYPE),
]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed-count", type=int, default=500)
    parser.add_argument("--connections", type=int, default=16)
    return parser.parse_args(argv)


def _per_call_us(work: Callable[[], object], rounds: int = 300) -> float:
    """The best of five batches: the least disturbed by the other work on the machine."""
    return min(timeit.repeat(work, number=rounds, repeat=5)) / rounds * 1e6


def conversion_rows() -> list[str]:
    """Microseconds per resource: orjson.loads, to_xml (from stored bytes), from_xml."""
    rows = ["| resource | JSON bytes | XML bytes | orjson.loads µs | to_xml µs | from_xml µs |",
            "|---|---:|---:|---:|---:|---:|"]
    samples = {"synthetic Patient (bench)": orjson.dumps(synthetic_patient(1))}
    for name in ("Patient-example.json", "CarePlan-f001.json", "Condition-example.json"):
        samples[name] = orjson.dumps(orjson.loads((EXAMPLE / name).read_bytes()))
    for name, stored in samples.items():
        xml = to_xml(orjson.loads(stored))
        assert from_xml(xml) == orjson.loads(stored), name
        loads = _per_call_us(lambda s=stored: orjson.loads(s))
        write = _per_call_us(lambda s=stored: to_xml(orjson.loads(s)))
        read = _per_call_us(lambda x=xml: from_xml(x))
        rows.append(f"| {name} | {len(stored):,} | {len(xml):,} | {loads:.1f} | {write:.0f} "
                    f"| {read:.0f} |")
    return rows


def _measure(args: argparse.Namespace, work: Path) -> dict[str, list[LoadResult]]:
    json_body, xml_body = work / "body.json", work / "body.xml"
    patient = synthetic_patient(10**6)
    json_body.write_bytes(json.dumps(patient).encode())
    xml_body.write_bytes(to_xml(patient))
    server = start_eolc(work)
    runs: dict[str, list[LoadResult]] = {name: [] for name, _, _ in CASES}
    try:
        server.wait_ready()
        ids_file = work / "ids.txt"
        ids_file.write_text("\n".join(seed(server, args.seed_count)) + "\n")
        for _ in range(args.repeat):
            for name, scenario, media in CASES:
                os.environ["BENCH_ACCEPT"] = os.environ["BENCH_CTYPE"] = media
                result = run_load("wrk", server.base_url, scenario, duration=args.duration,
                                  connections=args.connections, threads=1, ids_file=ids_file,
                                  body_file=xml_body if media == XML_TYPE else json_body)
                runs[name].append(result)
                print(f"  {name:12} {result.rps:8,.0f} req/s  p50 {result.p50_ms:5.1f} ms  "
                      f"p99 {result.p99_ms:6.1f} ms  errors {result.errors}", flush=True)
    finally:
        server.stop()
    return runs


def _median(results: list[LoadResult]) -> LoadResult:
    return sorted(results, key=lambda r: r.rps)[len(results) // 2]


def report(args: argparse.Namespace, runs: dict[str, list[LoadResult]]) -> str:
    lines = ["# FHIR XML vs JSON", "",
             f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; 1 uvicorn worker, SQLite, "
             f"{args.seed_count} Patients; wrk, {args.connections} connections, "
             f"{args.duration:g} s x {args.repeat} (median run shown)", "",
             "| case | req/s | p50 ms | p99 ms | errors | spread req/s |",
             "|---|---:|---:|---:|---:|---|"]
    for name, results in runs.items():
        mid = _median(results)
        spread = ", ".join(f"{r.rps:,.0f}" for r in results)
        lines.append(f"| {name} | {mid.rps:,.0f} | {mid.p50_ms:.1f} | {mid.p99_ms:.1f} | "
                     f"{sum(r.errors for r in results)} | {spread} |")
    lines.append("")
    for kind in ("read", "create"):
        xml, js = _median(runs[f"{kind} XML"]), _median(runs[f"{kind} JSON"])
        lines.append(f"- {kind}: XML / JSON throughput {xml.rps / js.rps:.2f}, "
                     f"p50 {xml.p50_ms / js.p50_ms:.2f}x")
    lines += ["", "Conversion alone, per resource (in-process, best of 5 batches):", ""]
    lines += conversion_rows()
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if not wrk_available():
        raise SystemExit("wrk is needed (apt-get install -y wrk)")
    with tempfile.TemporaryDirectory(prefix="xml-bench-") as tmp:
        runs = _measure(args, Path(tmp))
    markdown = report(args, runs)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-xml.md"
    out.write_text(markdown)
    print(markdown)
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
