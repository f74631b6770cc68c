"""`eolc-fhir report --period 2026-Q3 [--practice ODS] [--out DIR]`, in-process on the database."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import re
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from eolc_fhir.report.model import MeasureInput
from eolc_fhir.report.period import PeriodError, Quarter, parse_quarter
from eolc_fhir.report.source import MeasureEvaluator

if TYPE_CHECKING:
    from eolc_fhir.config import Settings
    from eolc_fhir.report.build import ReportFiles
    from eolc_fhir.services.context import ServerContext

__all__ = ["register_commands", "ReportError", "run_report", "AUDIT_CLIENT"]

Handler = Callable[[argparse.Namespace], int]
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
AUDIT_CLIENT = "eolc-fhir-report"  # the audit log's client id of this command's runs
_ODS_CODE = re.compile(r"[A-Z0-9]{3,10}")


class ReportError(Exception):
    """A report that cannot be made as asked; the message says why (exit code 2)."""


def register_commands(subparsers: Any, add_db: Callable[[argparse.ArgumentParser], None]
                      ) -> dict[str, Handler]:
    parser = subparsers.add_parser(
        "report", help="write every measure for a quarter as CSV tables, PNG plots (with the "
        "last four quarters' trend) and one HTML page")
    parser.add_argument("--period", required=True, help="calendar quarter, YYYY-Qn (2026-Q3)")
    parser.add_argument("--practice", metavar="ODS",
                        help="only the people of this GP practice (its ODS code)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="folder to write (default ./report-<period>)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_db(parser)
    return {"report": _report}


def _ods_code(text: str | None) -> str | None:
    if text is None:
        return None
    code = text.strip().upper()
    if not _ODS_CODE.fullmatch(code):
        raise ReportError(f"--practice '{text}': expected an ODS code (3 to 10 letters and "
                          "digits, e.g. Y01234)")
    return code


def _report(args: argparse.Namespace) -> int:
    from eolc_fhir.config import settings_from

    try:
        period = parse_quarter(args.period)
        if period.end >= date.today():
            print(f"warning: {period.label} has not ended yet: its figures are partial",
                  file=sys.stderr)
        practice = _ods_code(args.practice)
        out = _out_dir(args.out, period)
        settings = settings_from(args).model_copy(update={"run_dispatcher": False})
        files = asyncio.run(run_report(settings, period, practice, out, quiet=args.quiet))
    except (PeriodError, ReportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"report {period.label}: {len(files.tables)} measures; open {files.page}")
    return 0


def _out_dir(given: Path | None, period: Quarter) -> Path:
    """The folder to write, checked before the long part: it (or the nearest folder above
    it that exists, where it will be made) must be a folder this process may write in."""
    out = given or Path(f"report-{period.label}")
    existing = next(p for p in [out, *out.absolute().parents] if p.exists())
    if not existing.is_dir():
        raise ReportError(f"--out {out}: {existing} exists and is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ReportError(f"--out {out}: {existing} is not writable")
    return out


async def run_report(settings: Settings, period: Quarter, practice: str | None, out: Path, *,
                     quiet: bool = True) -> ReportFiles:
    """Open the database, evaluate every active Measure for four quarters, write the files."""
    from eolc_fhir.report.build import write_report
    from eolc_fhir.report.page import PageHeader
    from eolc_fhir.report.source import TREND_QUARTERS, gather
    from eolc_fhir.services.measures.evaluate import active_measures
    from eolc_fhir.services.startup import build_context, close_context

    ctx = await build_context(settings)
    try:
        practice_id, label = (await _resolve_practice(ctx, practice)) if practice else (None, None)
        # Those of profiles/ (published at start) and any a region added.
        measures = await active_measures(ctx)
        if not measures:
            raise ReportError("the database holds no active Measure")
        evaluate = _service_evaluator(ctx)
        header = PageHeader(period, label, datetime.now(UTC))
        with _progress(len(measures) * (TREND_QUARTERS + 1), quiet) as step:
            inputs = await gather(measures, period, evaluate, practice_id, step)
            await _name_practices(ctx, inputs)
            await _audit(ctx, period, practice_id, measures)  # durable before any file
            try:
                return write_report(out, header, inputs, step)
            except OSError as exc:  # a full disk, a folder we may not write to
                raise ReportError(f"cannot write the report in {out}: {exc}") from exc
    finally:
        await close_context(ctx)


async def _resolve_practice(ctx: ServerContext, code: str) -> tuple[str, str]:
    """The Organization id of the GP practice with this ODS code, and how to name it."""
    from eolc_fhir.services.search.query import find_ids, registry_of

    async with ctx.db.unit_of_work(write=False) as uow:
        ids = await find_ids(uow, "Organization", [("identifier", f"{ODS_SYSTEM}|{code}")],
                             registry=registry_of(ctx))
    if not ids:
        raise ReportError(f"--practice {code}: no Organization with this ODS code in the "
                          "database")
    if len(ids) > 1:
        raise ReportError(f"--practice {code}: {len(ids)} Organizations have this ODS code")
    stored = await ctx.db.get_current("Organization", ids[0])
    name = json.loads(stored.content).get("name") if stored and stored.content else None
    return ids[0], f"GP practice {name} ({code})" if name else f"GP practice {code}"


def _service_evaluator(ctx: ServerContext) -> MeasureEvaluator:
    """$evaluate-measure's own service, in this process: a summary report for a quarter."""
    from eolc_fhir.fhir.errors import FhirError
    from eolc_fhir.services.measures.evaluate import EvaluateRequest, evaluate_measure

    async def evaluate(measure_url: str, start: date, end: date,
                       practice_id: str | None) -> dict[str, Any]:
        request = EvaluateRequest(
            start.isoformat(), end.isoformat(), measure_url=measure_url,
            report_type="population",
            subject=f"Organization/{practice_id}" if practice_id else None)
        try:
            return (await evaluate_measure(ctx, request)).report
        except FhirError as exc:  # a Measure a region added that this server cannot read
            raise ReportError(f"{measure_url}: {exc}") from exc

    return evaluate


async def _name_practices(ctx: ServerContext, inputs: list[MeasureInput]) -> None:
    """Give each practice stratum (``Organization/<id>``) its practice's name as the coding's
    display, so tables and plots say which practice a reader knows."""
    values = [stratum["value"] for source in inputs for report in source.reports.values()
              for group in report.get("group", []) for stratifier in group.get("stratifier", [])
              for stratum in stratifier.get("stratum", [])
              if str(stratum.get("value", {}).get("text", "")).startswith("Organization/")]
    names: dict[str, str | None] = {}
    for value in values:
        org_id = value["text"].partition("/")[2]
        if org_id not in names:
            stored = await ctx.db.get_current("Organization", org_id)
            content = json.loads(stored.content) if stored and stored.content else {}
            names[org_id] = content.get("name")
        if names[org_id] and value.get("coding"):
            value["coding"][0].setdefault("display", names[org_id])


async def _audit(ctx: ServerContext, period: Quarter, practice_id: str | None,
                 measures: list[dict[str, Any]]) -> None:
    """One audit record for the run, as each $evaluate-measure over HTTP has: the measures,
    the period and the practice; the client is this command, the user the one running it."""
    from eolc_fhir.fhir.instant import now_us
    from eolc_fhir.security.audit import AuditRecord

    query = [("period", f"{period.start.isoformat()}/{period.end.isoformat()}")]
    if practice_id:
        query.append(("subject", f"Organization/{practice_id}"))
    record = AuditRecord(
        interaction="operation", recorded_us=now_us(), status=200, client_id=AUDIT_CLIENT,
        ods=None, request_id=uuid.uuid4().hex, user_id=_user(), query=urlencode(query),
        resources=[f"Measure/{m['id']}" for m in measures if m.get("id")])
    await ctx.db.append_audit([record])


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (e.g. some containers)
        return None


@contextmanager
def _progress(total: int, quiet: bool) -> Iterator[Callable[[str], None]]:
    """A progress bar on stderr, only when stderr is a terminal and --quiet is not given."""
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    # sys.stderr.isatty() rather than rich's own test, which FORCE_COLOR turns on in pipes.
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True),
                  disable=quiet or not sys.stderr.isatty()) as progress:
        task = progress.add_task("report", total=total)

        def step(label: str) -> None:
            progress.update(task, advance=1, description=escape(label[:60]))

        yield step
