"""`eolc-fhir demo`: load a synthetic region into the database through the service layer."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["register_commands"]

Handler = Callable[[argparse.Namespace], int]


def register_commands(subparsers: Any, add_db: Callable[[argparse.ArgumentParser], None]
                      ) -> dict[str, Handler]:
    parser = subparsers.add_parser(
        "demo", help="load a synthetic region (organisations, professionals, patients)")
    parser.add_argument("--patients", type=int, default=200, help="people on the register")
    parser.add_argument("--seed", type=int, default=1, help="same seed, same region")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="processes building and validating resources (default: cores)")
    parser.add_argument("--if-empty", action="store_true",
                        help="load only when the database holds no Organization yet")
    add_db(parser)
    return {"demo": _demo}


def _demo(args: argparse.Namespace) -> int:
    from eolc_fhir.config import settings_from

    settings = settings_from(args)
    report = asyncio.run(_load(settings, args))
    if report is None:
        print("demo: the database already holds organisations; nothing loaded")
        return 0
    if report.skipped:
        print(f"demo: the region of seed {report.seed} is already loaded")
        return 0
    rate = report.resources / report.seconds if report.seconds else 0.0
    print(f"demo: {report.patients} patients, {report.resources} resources in "
          f"{report.seconds:.1f} s ({rate:,.0f} resources/s), seed {report.seed}")
    return 0


async def _load(settings: Any, args: argparse.Namespace) -> Any:
    from eolc_fhir.demo.loader import load_region, stderr_progress
    from eolc_fhir.services.startup import build_context, close_context

    ctx = await build_context(settings)
    try:
        if args.if_empty and await _has_organizations(ctx):
            return None
        progress = stderr_progress() if args.patients >= 500 and sys.stderr.isatty() else None
        return await load_region(ctx, patients=args.patients, seed=args.seed,
                                 jobs=max(1, args.jobs), progress=progress)
    finally:
        await close_context(ctx)


async def _has_organizations(ctx: Any) -> bool:
    async with ctx.db.unit_of_work(write=False) as uow:
        return bool(await uow.resources.history(resource_type="Organization", limit=1))
