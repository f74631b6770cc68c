"""Suite-wide fixtures: a real PostgreSQL server and a fresh database per test on each engine.

Any test that asks for ``engine_url`` or ``migrated_url`` (directly or through another
fixture) runs once per engine: ids ``[sqlite]`` and ``[pg]``. Restrict one test with
``@pytest.mark.engines("sqlite")``. PostgreSQL items carry the ``pg`` marker, so
``pytest -m "not pg"`` runs the SQLite half only (and never starts the server).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._pg import PgServer, run_sync, running_pg_server

ENGINES = ("sqlite", "postgresql")
ENGINE_IDS = {"sqlite": "sqlite", "postgresql": "pg"}
_PG_TEMPLATE = "eolc_template"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine_name" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("engines")
    engines = tuple(marker.args) if marker else ENGINES
    unknown = set(engines) - set(ENGINES)
    if unknown:
        raise pytest.UsageError(f"unknown engines {sorted(unknown)} in {metafunc.definition}")
    ids = [ENGINE_IDS[name] for name in engines]
    metafunc.parametrize("engine_name", engines, ids=ids, indirect=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("engine_name") == "postgresql":
            item.add_marker(pytest.mark.pg)


@pytest.fixture
def engine_name(request: pytest.FixtureRequest) -> str:
    """"sqlite" or "postgresql"; parametrized by ``pytest_generate_tests``."""
    return str(request.param)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The suite's own PostgreSQL 15 server, started once and removed at the end."""
    with running_pg_server() as server:
        yield server


@pytest.fixture
def engine_url(
    engine_name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    """A SQLAlchemy async URL of a fresh, EMPTY database (no tables) on the test's engine."""
    if engine_name == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/t.db"
        return
    # Looked up lazily so that SQLite-only runs never start PostgreSQL.
    server: PgServer = request.getfixturevalue("pg_server")
    yield from _pg_database(server, "template0")


@pytest.fixture
def migrated_url(
    engine_name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    """A SQLAlchemy async URL of a fresh database with the current schema already applied.

    The migrations run once per session per engine into a template; each test gets a copy
    (a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL).
    """
    yield from _migrated(engine_name, request, tmp_path / "t.db")


@pytest.fixture
def second_migrated_url(
    engine_name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    """Another fresh migrated database on the same engine (to compare two ways of writing)."""
    yield from _migrated(engine_name, request, tmp_path / "second.db")


def _migrated(engine_name: str, request: pytest.FixtureRequest, sqlite_file: Path
              ) -> Iterator[str]:
    """A copy of the session's migrated template: a file copy, or CREATE DATABASE TEMPLATE."""
    if engine_name == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        shutil.copyfile(template, sqlite_file)
        yield f"sqlite+aiosqlite:///{sqlite_file}"
        return
    server: PgServer = request.getfixturevalue("_pg_template")
    yield from _pg_database(server, _PG_TEMPLATE)


def _pg_database(server: PgServer, template: str) -> Iterator[str]:
    name = server.create_database(template)
    try:
        yield server.url(name)
    finally:
        server.drop_database(name)


def migrate(url: str) -> None:
    """Apply the project's migrations to ``url``; the single place to change if that API moves."""
    from eolc_fhir.storage.database import Database
    from eolc_fhir.storage.migrate import upgrade

    async def _apply() -> None:
        db = Database(url)
        try:
            await upgrade(db)
        finally:
            await db.close()

    run_sync(_apply)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate(f"sqlite+aiosqlite:///{path}")
    # A clean close checkpoints the WAL into the main file, so copying that file suffices.
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    return path


@pytest.fixture(scope="session")
def _pg_template(pg_server: PgServer) -> PgServer:
    run_sync(lambda: pg_server.execute(f'CREATE DATABASE "{_PG_TEMPLATE}" TEMPLATE template0'))
    migrate(pg_server.url(_PG_TEMPLATE))
    return pg_server
