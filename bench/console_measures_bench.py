"""How long the console's measures page takes over data you have (auth on, in-process).

    .venv/bin/eolc-fhir demo --patients 200 --database-url sqlite+aiosqlite:///eolc.db
    .venv/bin/python -m bench.console_measures_bench --database-url sqlite+aiosqlite:///eolc.db

Signs a commissioner in to /console/measures through the SMART code flow, asks the page
for every Measure (``--repeat`` times; the quarter ``--quarter``) and prints the median
wall time and the page's own Server-Timing; then eight quarters of one Measure asked with
a system token one after the other and all at once, as the page asks them.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

import httpx

from eolc_fhir.config import Settings
from eolc_fhir.security.clients import new_client
from eolc_fhir.security.demo import CONSOLE_CLIENT
from eolc_fhir.web.measures import Quarter, parse_quarter
from tests.api.test_console import BASE, _browser, _sign_in
from tests.api.test_console_measures import _headers
from tests.console_support import hashed_user
from tests.security_support import SecureApp, secure_app

USER = "bench-commissioner"


async def _prepare(app: SecureApp) -> None:
    async with app.ctx.db.unit_of_work(write=True) as uow:
        if await uow.security.get_client(CONSOLE_CLIENT) is None:
            await uow.security.add_client(new_client(
                client_id=CONSOLE_CLIENT, name="eolc-fhir console", ods="", role="",
                scopes=None, jwks=None, jwks_uri=None,
                redirect_uris=[f"{BASE}/console/callback"], public=True))
        if await uow.people.get_user(USER) is None:
            await uow.people.add_user(replace(hashed_user(), username=USER, role="commissioner",
                                              ods="CCG01"))


async def _pages(browser: httpx.AsyncClient, measures: list[str], quarter: Quarter,
                 repeat: int) -> None:
    for measure in measures:
        walls, server = [], []
        for _ in range(repeat):
            began = time.perf_counter()
            page = await browser.get("/console/measures",
                                     params={"measure": measure, "quarter": quarter.key})
            walls.append((time.perf_counter() - began) * 1000)
            assert page.status_code == 200, page.text[:300]
            server.append(float(page.headers["server-timing"].split("dur=")[1]))
        print(f"{measure:36s} page {statistics.median(walls):7.0f} ms "
              f"(Server-Timing {statistics.median(server):.0f} ms)")


async def _eight(app: SecureApp, measure: str, quarter: Quarter, repeat: int) -> None:
    headers = await _headers(app, "commissioner", f"bench-{uuid.uuid4().hex[:8]}")
    quarters = [quarter.back(n) for n in range(8)]
    url = f"/Measure/{measure}/$evaluate-measure"

    async def one(q: Quarter) -> None:
        answer = await app.http.get(url, params=q.period(), headers=headers)
        assert answer.status_code == 200, answer.text[:300]

    for mode in ("one after the other", "all at once"):
        runs = []
        for _ in range(repeat):
            began = time.perf_counter()
            if mode == "all at once":
                await asyncio.gather(*(one(q) for q in quarters))
            else:
                for q in quarters:
                    await one(q)
            runs.append((time.perf_counter() - began) * 1000)
        print(f"8 quarters of {measure}, {mode}: {statistics.median(runs):.0f} ms")


async def main(url: str, quarter: Quarter, repeat: int) -> None:
    keys = Path(tempfile.mkdtemp(prefix="bench-keys-"))
    settings = Settings(database_url=url, base_url=BASE, demo_keys_dir=keys,
                        rate_limit_per_minute=0)
    async with secure_app(settings) as app:
        await _prepare(app)
        async with _browser(app) as browser:
            await _sign_in(browser, USER, "/console/measures")
            listed = await browser.get("/console/measures")
            measures = sorted(set(_option_values(listed.text, "measure")))
            await _pages(browser, measures, quarter, repeat)
        await _eight(app, measures[0], quarter, repeat)


def _option_values(html: str, select: str) -> list[str]:
    part = html.split(f'<select id="{select}"', 1)[1].split("</select>", 1)[0]
    return [chunk.split('"', 1)[0] for chunk in part.split('<option value="')[1:]]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--quarter", default="2026-Q3")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    chosen = parse_quarter(args.quarter)
    if chosen is None:
        parser.error("--quarter: a year and quarter such as 2026-Q3")
    asyncio.run(main(args.database_url, chosen, args.repeat))
