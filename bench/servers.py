"""Start a server under test as a subprocess on a free loopback port, and measure its memory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = [
    "Server", "free_port", "start_baseline", "start_fastapi_floor", "start_eolc", "peak_rss_kib",
    "rss_kib", "process_tree",
]

REPO = Path(__file__).resolve().parents[1]
_QUIET = ["--log-level", "warning", "--no-access-log"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running server process; ``stop()`` ends it and returns its peak RSS in KiB."""

    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def wait_ready(self, path: str = "/healthz", timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early; see {self.log_path}")
            try:
                if httpx.get(self.base_url + path, timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout}s; see {self.log_path}")

    def peak_rss_kib(self) -> int:
        return peak_rss_kib(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def peak_rss_kib(pid: int) -> int:
    """Largest VmHWM of the process and its children (uvicorn may fork workers)."""
    pids = [pid, *_children(pid)]
    peaks = [_vm_hwm(p) for p in pids]
    return max(peaks, default=0)


def rss_kib(pid: int) -> int:
    """Resident memory now (VmRSS) of one process, KiB; 0 once it is gone."""
    return _status_kib(pid, "VmRSS:")


def process_tree(pid: int) -> list[int]:
    """The process and its children (uvicorn workers)."""
    return [pid, *_children(pid)]


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    if not path.exists():
        return []
    return [int(child) for child in path.read_text().split()]


def _vm_hwm(pid: int) -> int:
    return _status_kib(pid, "VmHWM:")


def _status_kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def _spawn(name: str, argv: list[str], port: int, workdir: Path, env: dict[str, str]) -> Server:
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, cwd=REPO, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
        )
    return Server(name, process, f"http://127.0.0.1:{port}", log_path)


def _start_reference(name: str, app: str, workdir: Path) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1"]
    argv += ["--port", str(port), *_QUIET]
    env = {"BENCH_BASELINE_DB": str(workdir / f"{name}.db")}
    return _spawn(name, argv, port, workdir, env)


def start_baseline(workdir: Path) -> Server:
    """The bare Starlette + sqlite3 app, under the same uvicorn settings as ours."""
    return _start_reference("baseline", "bench.baseline_app:app", workdir)


def start_fastapi_floor(workdir: Path) -> Server:
    """FastAPI + sqlite3 returning bytes: what FastAPI routing alone costs."""
    return _start_reference("fastapi-floor", "bench.fastapi_floor:app", workdir)


def start_eolc(workdir: Path) -> Server:
    """eolc-fhir as shipped (`eolc-fhir serve`), SQLite in the work folder, no auth."""
    port = free_port()
    cli = Path(sys.executable).parent / "eolc-fhir"
    url = f"sqlite+aiosqlite:///{workdir / 'eolc.db'}"
    argv = [str(cli), "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--database-url", url, "--insecure-dev"]
    # Access logging is an operator's choice; both targets run without it.
    env = {"EOLC_LOG_LEVEL": "warning"}
    return _spawn("eolc-fhir", argv, port, workdir, env)
