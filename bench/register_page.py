"""The console's register page over a large region: milliseconds per page, per filter.

    python -m bench.register_page --database-url sqlite+aiosqlite:////path/region.db
    python -m bench.register_page --database-url postgresql+asyncpg://... --pages 10

The database must hold a loaded region (``eolc-fhir demo --patients 100000``, then
``eolc-fhir reindex Flag CarePlan`` if it was loaded before the register's search
parameters existed). Starts ``eolc-fhir serve`` (1 uvicorn worker, authentication on,
demo clients and users), signs in as the demo coordination-centre user through the
console's code flow, then for each filter opens ``/console/register`` and follows the
page's own "Next page" link ``--pages`` times, timing each page from request to last
byte (the page's four API searches, audit and rendering included). Each filter is walked
once first (its slowest page is reported on its own: a cache may be cold), then timed
``--repeat`` times. Prints p50 / p99 / max per filter and writes
bench/results/<UTC stamp>-register-page.md.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import httpx

from bench.servers import free_port
from bench.ws_latency import pct, ready, start
from tests.console_support import SignInForm

__all__ = ["main"]

RESULTS = Path(__file__).resolve().parent / "results"
USER = "demo-user-coordination-centre"
GOAL_MS = 300.0
_NEXT = re.compile(r'<a href="([^"]+)" rel="next"')
_PRACTICE = re.compile(r'data-label="Practice">([A-Z0-9]+) ')
_ROW = re.compile(r'href="/console/patient/')


async def sign_in(http: httpx.AsyncClient) -> None:
    """The console's code flow, as a browser follows it."""
    first = await http.get("/console/register")
    page = await http.get(first.headers["location"])
    form = SignInForm()
    form.feed(page.text)
    fields = {**form.fields, "username": USER, "password": f"{USER}-password"}
    back = await http.post("/auth/authorize", data=fields)
    done = await http.get(back.headers["location"])
    if done.status_code != 303:
        raise RuntimeError(f"sign-in failed: {done.status_code} {done.text[:200]}")


def _filters(practice: str) -> dict[str, dict[str, str]]:
    return {
        "none": {},
        "practice": {"practice": practice},
        "prognosis (last days)": {"prognosis": "511401000000102"},
        "has a plan": {"plan": "yes"},
        "no plan": {"plan": "no"},
        "CPR decision in date": {"cpr": "yes"},
        "no CPR decision in date": {"cpr": "no"},
        "plan review overdue": {"overdue": "1"},
        "no preferred place": {"noplace": "1"},
        "practice + no plan + no place": {"practice": practice, "plan": "no", "noplace": "1"},
    }


async def walk(http: httpx.AsyncClient, params: dict[str, str], pages: int
               ) -> tuple[list[float], int]:
    """Milliseconds of the first page and of each next page followed; rows seen."""
    times: list[float] = []
    rows = 0
    url: str | None = "/console/register"
    query: dict[str, str] | None = params
    for _ in range(pages + 1):
        if url is None:
            break
        began = time.perf_counter()
        answer = await http.get(url, params=query)
        times.append((time.perf_counter() - began) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(f"{url} {params}: {answer.status_code} {answer.text[:300]}")
        rows += len(_ROW.findall(answer.text))
        found = _NEXT.search(answer.text)
        url, query = (unescape(found.group(1)), None) if found else (None, None)
    return times, rows


async def run(base: str, pages: int, repeat: int, only: list[str]) -> list[dict[str, object]]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        await sign_in(http)
        first = await http.get("/console/register")
        practice = _PRACTICE.search(first.text)
        out = []
        for name, params in _filters(practice.group(1) if practice else "").items():
            if only and name not in only:
                continue
            times: list[float] = []
            opening: list[float] = []
            rows = 0
            try:
                opening, rows = await walk(http, params, pages)  # reported apart
                for _ in range(repeat):
                    more, rows = await walk(http, params, pages)
                    times += more
            except httpx.TimeoutException:  # a page that took longer than the timeout
                times.append(float(http.timeout.read or 0) * 1000)
                opening = opening or times
            out.append({"filter": name, "pages": len(times), "rows": rows, "first": max(opening),
                        "p50": pct(times, 0.5), "p99": pct(times, 0.99), "max": max(times)})
            print(f"{name:32s} first walk max {max(opening):7.1f} ms  pages {len(times):3d}  "
                  f"p50 {out[-1]['p50']:7.1f} ms  p99 {out[-1]['p99']:7.1f} ms  "
                  f"max {out[-1]['max']:7.1f} ms", flush=True)
        return out


def _write(args: argparse.Namespace, rows: list[dict[str, object]]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    engine = "PostgreSQL" if args.database_url.startswith("postgresql") else "SQLite"
    lines = [f"# Register page, {engine} ({stamp})", "",
             f"`{args.label}`; {args.pages} next pages after the first; per filter one "
             f"first walk (its slowest page reported apart: the database's caches may be "
             f"cold), then {args.repeat} timed walk(s); 25 rows a page; 1 uvicorn worker, "
             f"auth on. Goal: each page < {GOAL_MS:.0f} ms.", "",
             "| filter | first walk, slowest page ms | pages timed | p50 ms | p99 ms | max ms |",
             "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['filter']} | {r['first']:.1f} | {r['pages']} | {r['p50']:.1f} | "
              f"{r['p99']:.1f} | {r['max']:.1f} |" for r in rows]
    path = RESULTS / f"{stamp}-register-page.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="a loaded, migrated region")
    parser.add_argument("--pages", type=int, default=10, help="next pages after the first")
    parser.add_argument("--repeat", type=int, default=2, help="walks per filter")
    parser.add_argument("--label", default="region", help="what the database holds")
    parser.add_argument("--filter", action="append", default=[], choices=list(_filters("")),
                        help="time only this filter (repeatable); default: every filter")
    args = parser.parse_args(argv)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="eolc-register-bench-") as tmp:
        server = start(args.database_url, port, Path(tmp) / "keys", Path(tmp) / "server.log",
                       dispatcher=False)
        try:
            base = f"http://127.0.0.1:{port}"
            asyncio.run(ready(base))
            rows = asyncio.run(run(base, args.pages, args.repeat, args.filter))
        finally:
            server.terminate()
            server.wait(30)
    print(_write(args, rows))
    return 0 if all(float(str(r["p99"])) < GOAL_MS for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
