"""Where the machine's CPU went during a run: all cores busy, and the server's own share.

Read from /proc (Linux): ``/proc/stat`` for the whole machine, ``/proc/[pid]/stat`` for the
server's processes. A run whose machine is already near 100% busy with one worker cannot
go faster with two: the benchmark prints both so a scaling figure can be read against it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuUse:
    machine_busy: float  # 0..1 of all cores
    server_cores: float  # cores' worth the server's processes used (1.0 = one whole core)

    def text(self) -> str:
        return (f"machine {self.machine_busy:.0%} busy of {os.cpu_count()} cores, "
                f"server {self.server_cores:.2f} cores")


def _machine() -> tuple[int, int]:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _process_ticks(pids: Iterable[int]) -> int:
    total = 0
    for pid in pids:
        try:
            after_name = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(after_name[11]) + int(after_name[12])  # utime + stime
    return total


class CpuMeter:
    """``start()`` before the run, ``stop()`` after: the CPU use in between."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids

    def start(self) -> None:
        self._machine = _machine()
        self._server = _process_ticks(self.pids)
        self._t0 = time.monotonic()

    def stop(self) -> CpuUse:
        busy, total = _machine()
        seconds = time.monotonic() - self._t0
        server = (_process_ticks(self.pids) - self._server) / _TICKS
        return CpuUse(machine_busy=(busy - self._machine[0]) / max(1, total - self._machine[1]),
                      server_cores=server / seconds if seconds > 0 else 0.0)
