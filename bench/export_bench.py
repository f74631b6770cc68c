"""Bulk `$export` of a whole synthetic region: resources/s, total seconds, peak RSS.

    python -m bench.export_bench [--patients 100000] [--sqlite-db /tmp/export-bench/region100k.db]
                                 [--client demo-coordination-centre] [--download] [--seed 1]

Loads the demo region into the SQLite file with the real command (``eolc-fhir demo``,
timed; ~9 min for 100,000 patients on a quiet machine) unless the file is there already
(then it is reused as it is), starts ``eolc-fhir serve`` (1 uvicorn worker, auth on, demo
clients), kicks off ``GET /$export`` as a demo client (the coordination centre by
default), polls the status URL every 0.2 s until the manifest, and reports the time from
kick-off to manifest, resources exported per second, the server's RSS (sampled every
0.1 s while the export ran, and its peak since start, VmHWM) and, with ``--download``,
the time to fetch every file (streamed, lines counted against the manifest). Goal
(issue 14): ~860,000 resources in < 60 s, >= 20,000 resources/s, RSS < 300 MB. Results:
markdown under bench/results/.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.servers import REPO, Server, rss_kib
from bench.service_bench import _crew_token, _start_eolc

__all__ = ["main"]

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_DB = Path("/tmp/export-bench/region100k.db")
GOAL_SECONDS, GOAL_RATE, GOAL_MIB = 60.0, 20_000, 300


def _load(db: Path, patients: int, seed: int) -> float:
    db.parent.mkdir(parents=True, exist_ok=True)
    cli = Path(sys.executable).parent / "eolc-fhir"
    began = time.monotonic()
    subprocess.run([str(cli), "demo", "--patients", str(patients), "--seed", str(seed),
                    "--database-url", f"sqlite+aiosqlite:///{db.resolve()}"], cwd=REPO,
                   check=True)
    return time.monotonic() - began


def _live_rows(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT count(*) FROM resources WHERE NOT deleted").fetchone()[0])


class _Sampler(threading.Thread):
    """The server's RSS every 0.1 s while the export runs."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.1)


def _export(server: Server, token: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=60.0) as http:
        sampler = _Sampler(server.process.pid)
        sampler.start()
        began = time.monotonic()
        kick = http.get("/$export", headers={"Prefer": "respond-async",
                                             "Accept": "application/fhir+json"})
        assert kick.status_code == 202, kick.text
        status_url = kick.headers["content-location"]
        while (answer := http.get(status_url)).status_code == 202:
            time.sleep(0.2)
        seconds = time.monotonic() - began
        sampler.done.set()
        sampler.join()
        assert answer.status_code == 200, answer.text
        manifest = answer.json()
        result = {"seconds": seconds, "manifest": manifest, "rss_during": sampler.peak / 1024,
                  "exported": sum(o["count"] for o in manifest["output"]),
                  "files": len(manifest["output"]), "status_url": status_url}
        return result


def _download(server: Server, token: str, manifest: dict[str, Any]) -> tuple[float, int]:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/fhir+ndjson"}
    began, lines = time.monotonic(), 0
    with httpx.Client(headers=headers, timeout=120.0) as http:
        for item in manifest["output"]:
            with http.stream("GET", item["url"]) as response:
                assert response.status_code == 200
                got = sum(chunk.count(b"\n") for chunk in response.iter_bytes())
            assert got == item["count"], (item, got)
            lines += got
    return time.monotonic() - began, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.export_bench",
                                     description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sqlite-db", type=Path, default=DEFAULT_DB,
                        help="the region's SQLite file: reused if it exists, else loaded")
    parser.add_argument("--client", default="demo-coordination-centre")
    parser.add_argument("--download", action="store_true", help="also fetch every file")
    args = parser.parse_args(argv)
    loaded = None
    if not args.sqlite_db.exists():
        print(f"loading {args.patients:,} patients into {args.sqlite_db}", flush=True)
        loaded = _load(args.sqlite_db, args.patients, args.seed)
    work = Path(tempfile.mkdtemp(prefix="eolc-export-"))
    try:
        row = _measure(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    row["loaded"] = loaded
    _write(args, row)
    return 0


def _measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    url = f"sqlite+aiosqlite:///{args.sqlite_db.resolve()}"
    env = {"EOLC_EXPORT_DIR": str(work / "exports"), "EOLC_RUN_DISPATCHER": "0"}
    server = _start_eolc(url, work, secure=True, extra_env=env)
    try:
        server.wait_ready("/readyz", timeout=300)
        stored = _live_rows(args.sqlite_db)
        token = _crew_token(server, work, client=args.client)
        start_mib = rss_kib(server.process.pid) / 1024
        row = _export(server, token)
        row |= {"stored": stored, "rss_start": start_mib}
        if args.download:
            row["download_seconds"], row["downloaded"] = _download(server, token,
                                                                   row["manifest"])
        row["rss_peak"] = server.peak_rss_kib() / 1024
    finally:
        server.stop()
    return row


def _write(args: argparse.Namespace, row: dict[str, Any]) -> None:
    rate = row["exported"] / row["seconds"]
    met = (row["seconds"] < GOAL_SECONDS and rate >= GOAL_RATE
           and row["rss_peak"] < GOAL_MIB)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    lines = [
        f"# `$export` of a {args.patients:,}-patient region ({stamp})", "",
        f"Machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end "
        f"(shared with other work). SQLite, 1 uvicorn worker, auth on, client {args.client}.",
        "", "| | |", "|---|---|",
        f"| live resources stored | {row['stored']:,} |",
        f"| exported (files) | {row['exported']:,} ({row['files']} files) |",
        f"| kick-off to manifest | {row['seconds']:.1f} s |",
        f"| resources/s | {rate:,.0f} |",
        f"| server RSS at start / highest while exporting / peak (VmHWM) | "
        f"{row['rss_start']:.0f} / {row['rss_during']:.0f} / {row['rss_peak']:.0f} MiB |",
    ]
    if "download_seconds" in row:
        lines.append(f"| download of every file | {row['download_seconds']:.1f} s "
                     f"({row['downloaded']:,} lines) |")
    if row.get("loaded"):
        lines.append(f"| loading the region | {row['loaded'] / 60:.1f} min |")
    lines += ["", f"Goal (< {GOAL_SECONDS:.0f} s, >= {GOAL_RATE:,}/s, < {GOAL_MIB} MB): "
              f"{'met' if met else 'MISSED'}."]
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stamp}-export.md").write_text(text)
    print(text)


if __name__ == "__main__":
    raise SystemExit(main())
