"""A throwaway PostgreSQL 15 server for the test suite, started from the local binaries.

The suite owns the server: it is created in a temporary folder, listens on a free
loopback port, runs with durability switched off (tests never need crash safety) and
is stopped and deleted at the end of the session, also when the run fails.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import asyncpg

__all__ = ["PgServer", "start_pg_server", "running_pg_server", "run_sync", "DEFAULT_BINDIR"]

DEFAULT_BINDIR = Path(os.environ.get("EOLC_TEST_PG_BINDIR", "/usr/lib/postgresql/15/bin"))
_SERVER_SETTINGS = {
    # Test data is disposable: trade durability for speed.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "64MB",
    "log_min_messages": "warning",
}
_T = TypeVar("_T")


def run_sync(make_coro: Callable[[], Awaitable[_T]]) -> _T:
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    result: list[_T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(_wrap(make_coro)))
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    # A separate thread keeps our private loop away from pytest-asyncio's loop.
    thread = threading.Thread(target=target, name="pg-admin")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


async def _wrap(make_coro: Callable[[], Awaitable[_T]]) -> _T:
    return await make_coro()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to the postgres user when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


@dataclass
class PgServer:
    """A running server; ``url(db)`` gives SQLAlchemy URLs, ``dsn(db)`` asyncpg DSNs."""

    bindir: Path
    root: Path
    port: int
    host: str = "127.0.0.1"
    user: str = "postgres"
    _stopped: bool = field(default=False, repr=False)

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def logfile(self) -> Path:
        return self.root / "server.log"

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+asyncpg://{self.user}@{self.host}:{self.port}/{dbname}"

    async def execute(self, sql: str, dbname: str = "postgres") -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
        conn = await asyncpg.connect(self.dsn(dbname))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def create_database(self, template: str = "template0") -> str:
        """Create an empty (or template-cloned) database with a unique name; return its name."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        # FILE_COPY beats the default WAL_LOG tenfold here (~10 ms) since fsync is off.
        sql = f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY'
        run_sync(lambda: self.execute(sql))
        return name

    def drop_database(self, name: str) -> None:
        # FORCE ends connections a test forgot to close, so the drop cannot hang.
        run_sync(lambda: self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def halt(self) -> None:
        """Stop the server but keep its data (``resume`` starts it again): an outage."""
        self._pg_ctl_stop("fast")

    def resume(self) -> None:
        """Start a halted server again, on the same port and data."""
        _start(self)

    def stop(self) -> None:
        """Stop the server and delete its folder; safe to call more than once."""
        if self._stopped:
            return
        self._stopped = True
        try:
            if (self.datadir / "postmaster.pid").exists():
                self._pg_ctl_stop("fast")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _pg_ctl_stop(self, mode: str) -> None:
        argv = [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"]
        try:
            subprocess.run(_as_postgres(argv), check=True, capture_output=True, timeout=30)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            if mode != "immediate":
                self._pg_ctl_stop("immediate")


def _prepare_root() -> Path:
    # As root the server runs as postgres, which must be able to reach the folder:
    # a private TMPDIR (e.g. under /root) would not do, /tmp always does.
    base = "/tmp" if os.geteuid() == 0 and Path("/tmp").is_dir() else None
    root = Path(tempfile.mkdtemp(prefix="eolc-pg-", dir=base))
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(root, entry.pw_uid, entry.pw_gid)
    return root


def _run(argv: list[str], what: str, logfile: Path | None = None) -> None:
    proc = subprocess.run(_as_postgres(argv), capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        log = logfile.read_text(errors="replace") if logfile and logfile.exists() else ""
        raise RuntimeError(f"{what} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}{log}")


def _initdb(server: PgServer) -> None:
    argv = [str(server.bindir / "initdb"), "-D", str(server.datadir), "-U", server.user]
    argv += ["-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"]
    _run(argv, "initdb")


def _start(server: PgServer) -> None:
    options = [f"-p {server.port}", f"-k {server.root}", f"-c listen_addresses={server.host}"]
    options += [f"-c {key}={value}" for key, value in _SERVER_SETTINGS.items()]
    argv = [str(server.bindir / "pg_ctl"), "-D", str(server.datadir), "-l", str(server.logfile)]
    argv += ["-o", " ".join(options), "-w", "-t", "60", "start"]
    _run(argv, "pg_ctl start", server.logfile)


def _install_sigterm_exit() -> None:
    # Default SIGTERM kills the process without atexit or fixture teardown, leaving the
    # server behind. As KeyboardInterrupt it ends the pytest session (a SystemExit would
    # only fail the current test), runs the finalizers and then atexit.
    if threading.current_thread() is threading.main_thread():
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _interrupt_on_signal)


def _interrupt_on_signal(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt("SIGTERM")


def start_pg_server(bindir: Path = DEFAULT_BINDIR, attempts: int = 3) -> PgServer:
    """initdb + start on a free port; retries when another process grabbed the port first."""
    if not (bindir / "pg_ctl").exists():
        raise RuntimeError(
            f"PostgreSQL binaries not found in {bindir}; install PostgreSQL 15 "
            "or set EOLC_TEST_PG_BINDIR"
        )
    server = PgServer(bindir=bindir, root=_prepare_root(), port=_free_port())
    atexit.register(server.stop)
    _install_sigterm_exit()
    try:
        _initdb(server)
        for attempt in range(attempts):
            try:
                _start(server)
                return server
            except RuntimeError:
                if attempt == attempts - 1:
                    raise
                server.port = _free_port()
    except BaseException:
        server.stop()
        raise
    raise AssertionError("unreachable")


@contextmanager
def running_pg_server() -> Iterator[PgServer]:
    """``start_pg_server``, stopped (and its folder removed) when the block ends."""
    server = start_pg_server()
    try:
        yield server
    finally:
        server.stop()
