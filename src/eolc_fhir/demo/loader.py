"""Load a synthetic region through the service layer: every resource validated and indexed.

Resources are built and admitted in batches (the write path's validator door,
admission.py: base rules with the R4B model, then the profiles, the same two
stages as a REST create), and their search index rows extracted, optionally in
worker processes because both are CPU-bound, and then written by the one write
path for many new resources (``store_new_versions``, which takes them as
admitted), a batch of people per unit of work: the same rows, history, index
rows and write-hook effects as ``store_version`` one by one, with a few
statements per batch.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from eolc_fhir.demo.people import NhsNumbers, person_resources
from eolc_fhir.demo.region import build_region
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.resources.admission import Admitted, admit
from eolc_fhir.services.resources.writes import store_new_versions
from eolc_fhir.storage.model import IndexRows

__all__ = ["LoadReport", "load_region", "region_loaded", "prepare_people", "Progress",
           "stderr_progress", "validate"]

Progress = Callable[[int, int], None]  # (people done, people in total)
POOL_FROM = 1000  # people; fewer are prepared in this process
_BATCH = 200  # people per unit of work: fewer commits and WAL checkpoints than 50


@dataclass(frozen=True)
class LoadReport:
    seed: int
    patients: int
    resources: int
    seconds: float
    skipped: bool = False


@lru_cache(maxsize=4)
def _profiles(profiles_dir: str) -> Any:
    from eolc_fhir.validation import ProfileSet

    return ProfileSet.load(Path(profiles_dir))


@lru_cache(maxsize=4)
def _registry(profiles_dir: str) -> Any:
    from eolc_fhir.search import SearchRegistry

    return SearchRegistry.load(Path(profiles_dir))


def validate(resource: dict[str, Any], validator: Any) -> Admitted:
    """Both stages: base (400 on failure) then profiles (422 on errors), as a write does."""
    return admit(validator, resource)


Prepared = list[tuple[Admitted, IndexRows]]


def prepare_people(seed: int, patients: int, indexes: list[int], numbers: list[str],
                   today: date, profiles_dir: str | None, search_dir: str) -> Prepared:
    """Build and admit people, with their index rows (in a worker process when there
    are several). The rows are the server's (``search_dir`` is the folder its registry
    was loaded from); the write then only sets meta.versionId and meta.lastUpdated, which
    no index row is made from (``_lastUpdated`` is a column of the resources table)."""
    region = build_region(seed, patients)
    validator = _profiles(profiles_dir) if profiles_dir else None
    registry = _registry(search_dir)
    out: Prepared = []
    for index, number in zip(indexes, numbers, strict=True):
        for resource in person_resources(region, index, today, number):
            out.append((validate(resource, validator), registry.extract(resource)))
    return out


async def region_loaded(ctx: ServerContext, seed: int) -> bool:
    """True when the region of ``seed`` is already there (its coordination centre exists)."""
    region = build_region(seed, 0)
    async with ctx.db.unit_of_work(write=False) as uow:
        return await uow.resources.exists_live("Organization", region.coordination_centre["id"])


async def _store(ctx: ServerContext, resources: list[dict[str, Any]] | list[Admitted],
                 index: list[IndexRows] | None = None) -> None:
    async with ctx.db.unit_of_work(write=True) as uow:
        await store_new_versions(ctx, uow, resources, method="PUT", index=index)


async def _store_prepared(ctx: ServerContext, batch: Prepared) -> None:
    await _store(ctx, [resource for resource, _ in batch], [rows for _, rows in batch])


def _batches(patients: int, numbers: NhsNumbers) -> Iterator[tuple[list[int], list[str]]]:
    for start in range(0, patients, _BATCH):
        indexes = list(range(start, min(patients, start + _BATCH)))
        yield indexes, [numbers.for_person(i) for i in indexes]


async def load_region(ctx: ServerContext, *, patients: int, seed: int = 1,
                      today: date | None = None, jobs: int = 1,
                      progress: Progress | None = None) -> LoadReport:
    """Create the region of ``seed`` with ``patients`` people; skip if it is already there."""
    began = time.perf_counter()
    if await region_loaded(ctx, seed):
        return LoadReport(seed, 0, 0, time.perf_counter() - began, skipped=True)
    day = today or date.today()
    profiles_dir = str(ctx.settings.profiles_dir) if ctx.validator is not None else None
    region = build_region(seed, patients)
    await _store(ctx, region.resources())  # admitted by the write
    count = len(region.resources())
    work = _batches(patients, NhsNumbers(seed))
    args = (seed, patients)
    dirs = (profiles_dir, str(ctx.settings.profiles_dir))  # ctx.search was loaded from there
    # Worker start-up (importing the models) costs seconds: not worth it for a small region.
    use_pool = jobs > 1 and patients >= POOL_FROM
    pool: Executor | None = ProcessPoolExecutor(jobs) if use_pool else None
    try:
        count += await _pipeline(ctx, work, args, day, dirs, pool, patients, progress)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    await ctx.db.analyze()  # planner statistics before the region is queried
    return LoadReport(seed, patients, count, time.perf_counter() - began)


async def _pipeline(ctx: ServerContext, work: Iterator[tuple[list[int], list[str]]],
                    args: tuple[int, int], day: date, dirs: tuple[str | None, str],
                    pool: Executor | None, patients: int, progress: Progress | None) -> int:
    """Prepare the next batches (in workers) while the current one is written."""
    loop = asyncio.get_running_loop()
    depth = 2 * (getattr(pool, "_max_workers", 1) or 1) if pool else 0
    pending: list[tuple[int, asyncio.Future[Prepared]]] = []
    done = stored = 0
    for indexes, numbers in work:
        params = (*args, indexes, numbers, day, *dirs)
        if pool is None:
            batch = prepare_people(*params)
            await _store_prepared(ctx, batch)
            stored, done = stored + len(batch), done + len(indexes)
            _report(progress, done, patients)
            continue
        pending.append((len(indexes), loop.run_in_executor(pool, prepare_people, *params)))
        while len(pending) > depth:
            stored, done = await _drain_one(ctx, pending, stored, done, patients, progress)
    while pending:
        stored, done = await _drain_one(ctx, pending, stored, done, patients, progress)
    return stored


async def _drain_one(ctx: ServerContext, pending: list[tuple[int, Any]], stored: int, done: int,
                     patients: int, progress: Progress | None) -> tuple[int, int]:
    people, future = pending.pop(0)
    batch = await future
    await _store_prepared(ctx, batch)
    _report(progress, done + people, patients)
    return stored + len(batch), done + people


def _report(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


def stderr_progress(width: int = 40) -> Progress:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""
    last = [0.0]

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - last[0] < 0.1:
            return
        last[0] = now
        filled = int(width * done / total) if total else width
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} people")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show
