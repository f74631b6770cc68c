"""One export job's files: NDJSON per type, streamed from one snapshot, never parsed.

Every type the job covers is read in key order, a batch at a time, and its
stored JSON written as it is, one resource a line (stored JSON is compact, so a
line break inside one would be a bug: a batch whose line count is off has its
stray breaks, which JSON allows only as whitespace, removed). A file holds at
most ``export_file_lines`` resources. What the client may not see is left out
by key: others' Subscriptions and, for people who withdrew consent to share,
what another organisation recorded (the rule of docs/security.md, decided once
per job from the few people concerned, not per row). Types the client may not
read, when it named none, are listed as errors. Returns the manifest's
``output`` and ``error`` entries; the caller writes the manifest.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl

import orjson

from eolc_fhir.fhir.errors import Issue
from eolc_fhir.fhir.outcome import operation_outcome
from eolc_fhir.search.parse import parse_search
from eolc_fhir.security.compartment import is_consent_to_share
from eolc_fhir.security.policy import allowed
from eolc_fhir.security.principal import Principal
from eolc_fhir.security.roles import OWNED_TYPES
from eolc_fhir.security.visibility import hidden
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.export.spec import SYSTEM, ExportSpec
from eolc_fhir.storage.export_rows import ExportSelection, ExportSnapshot
from eolc_fhir.storage.query import Query

__all__ = ["write_files", "Written", "BATCH"]

BATCH = 2000
Checkpoint = Callable[[str], Awaitable[None]]


@dataclass
class Written:
    """The files of a job: (type, file name, lines) for output and errors."""

    output: list[tuple[str, str, int]] = field(default_factory=list)
    errors: list[tuple[str, str, int]] = field(default_factory=list)


@dataclass
class _Rules:
    """What to leave out for this client: by key, and other clients' owned resources."""

    hidden: set[tuple[str, str]] = field(default_factory=set)
    owned: dict[str, set[str]] | None = None  # type -> ids the client owns; None: all

    def keeps(self, rtype: str, rid: str) -> bool:
        if self.owned is not None and rtype in OWNED_TYPES and rid not in self.owned.get(
                rtype, set()):
            return False
        return (rtype, rid) not in self.hidden


async def write_files(ctx: ServerContext, spec: ExportSpec, folder: Path,
                      snap: ExportSnapshot, checkpoint: Checkpoint) -> Written:
    principal = spec.principal()
    types = spec.types if spec.types is not None else await snap.types()
    readable = [t for t in types if allowed(principal, "r", t)]
    refused = [t for t in types if t not in readable]
    rules = await _rules(snap, principal, readable)
    filters = _filters(ctx, spec)
    written = Written()
    for n, rtype in enumerate(readable, 1):
        selection = ExportSelection(rtype, spec.since_us, tuple(filters.get(rtype, ())),
                                    compartment=spec.level != SYSTEM,
                                    patients=tuple(spec.patients)
                                    if spec.patients is not None else None)
        files = _Files(folder, rtype, ctx.settings.export_file_lines)
        try:
            async for batch in snap.batches(selection, BATCH):
                await files.write([(rid, content) for rid, content in batch
                                   if rules.keeps(rtype, rid)])
                await checkpoint(f"{rtype}: {files.total:,} written (type {n} of "
                                 f"{len(readable)})")
        finally:
            await files.close()
        written.output += files.done
    if refused or spec.warnings:
        written.errors.append(await _problems(folder, refused, spec.warnings))
    return written


def _filters(ctx: ServerContext, spec: ExportSpec) -> dict[str, list[Query]]:
    found: dict[str, list[Query]] = {}
    for rtype, query in spec.type_filters:
        pairs = parse_qsl(query, keep_blank_values=True)
        found.setdefault(rtype, []).append(
            parse_search(ctx.search, rtype, pairs, base_url=spec.base_url).query)
    return found


async def _rules(snap: ExportSnapshot, principal: Principal | None,
                 types: list[str]) -> _Rules:
    if principal is None or principal.is_admin:
        return _Rules()
    owned = {t: await snap.owned_ids(principal.client_id, t, principal.user_id)
             for t in OWNED_TYPES if t in types}
    withdrawn = frozenset(await snap.withdrawn_patients())
    if not withdrawn:
        return _Rules(owned=owned)
    about = [(t, i) for t, i, content in await snap.about(sorted(withdrawn), "Consent")
             if content is None or not is_consent_to_share(orjson.loads(content))]
    origins = await snap.origins(about)
    # No origin row: written outside any request (a bulk load), so no organisation may
    # claim it (admin aside), as everywhere else.
    return _Rules({k for k in about if k not in origins or
                   hidden(principal, k[0], origins[k], withdrawn)}, owned)


async def _problems(folder: Path, refused: list[str],
                    warnings: list[str]) -> tuple[str, str, int]:
    """The manifest's ``error`` file: a type left out, or a parameter ignored (lenient)."""
    issues = [Issue("error", "forbidden", f"{t} was left out: this client may not read it")
              for t in refused]
    issues += [Issue("warning", "not-supported", text) for text in warnings]
    lines = [orjson.dumps(operation_outcome([issue])) for issue in issues]
    name = "errors-1.ndjson"  # lower case: never the name of a type's file
    await asyncio.to_thread((folder / name).write_bytes, b"\n".join(lines) + b"\n")
    return "OperationOutcome", name, len(lines)


class _Files:
    """The NDJSON files of one type, each at most ``limit`` lines; the Patient ids of a
    Patient file are kept beside it (``.patients``), for the audit of its downloads."""

    def __init__(self, folder: Path, rtype: str, limit: int) -> None:
        self.folder, self.rtype, self.limit = folder, rtype, limit
        self.done: list[tuple[str, str, int]] = []
        self.total = 0
        self._file: IO[bytes] | None = None
        self._ids: IO[bytes] | None = None
        self._lines = 0

    async def write(self, rows: list[tuple[str, bytes]]) -> None:
        while rows:
            if self._file is None or self._lines >= self.limit:
                await self._next()
            take = rows[:self.limit - self._lines]
            rows = rows[len(take):]
            await asyncio.to_thread(self._append, take)
            self._lines += len(take)
            self.total += len(take)

    def _append(self, rows: list[tuple[str, bytes]]) -> None:
        assert self._file is not None
        blob = b"\n".join(content for _, content in rows) + b"\n"
        if blob.count(b"\n") != len(rows):  # a line break inside a stored resource
            blob = b"".join(_one_line(content) + b"\n" for _, content in rows)
        self._file.write(blob)
        if self._ids is not None:
            self._ids.write(b"".join(rid.encode() + b"\n" for rid, _ in rows))

    async def _next(self) -> None:
        await self.close()
        name = f"{self.rtype}-{len(self.done) + 1}.ndjson"
        self._file = open(self.folder / name, "wb")  # noqa: SIM115 - closed in close()
        if self.rtype == "Patient":
            self._ids = open(self.folder / f"{name}.patients", "wb")  # noqa: SIM115
        self.done.append((self.rtype, name, 0))
        self._lines = 0

    async def close(self) -> None:
        if self._file is None:
            return
        handles = [h for h in (self._file, self._ids) if h is not None]
        self._file = self._ids = None
        try:
            await asyncio.to_thread(_close, handles)
        except asyncio.CancelledError:
            # Stopped (shutdown, cancel) before the thread ran or finished: close here, or
            # the files stay open until collected. close() may be called twice safely.
            for handle in handles:
                handle.close()
            raise
        rtype, name, _ = self.done[-1]
        self.done[-1] = (rtype, name, self._lines)


def _close(handles: list[Any]) -> None:
    for handle in handles:
        handle.flush()
        os.fsync(handle.fileno())  # complete on disk before the manifest names it
        handle.close()


def _one_line(content: bytes) -> bytes:
    return content.replace(b"\r", b"").replace(b"\n", b"")
