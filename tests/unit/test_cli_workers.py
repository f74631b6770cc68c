"""`eolc-fhir serve --workers N`: refused on SQLite, and the settings its workers inherit."""

from __future__ import annotations

from pathlib import Path

import pytest

from eolc_fhir.cli import main
from eolc_fhir.config import Settings, settings_environment


def test_several_workers_on_sqlite_are_refused(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/one.db"
    assert main(["serve", "--workers", "2", "--database-url", url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--workers 2 needs PostgreSQL" in err
    assert not (tmp_path / "one.db").exists()  # refused before anything was touched


def test_eolc_workers_is_refused_on_sqlite_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("EOLC_WORKERS", "3")
    assert main(["serve", "--database-url", f"sqlite+aiosqlite:///{tmp_path}/one.db"]) == 2
    assert "--workers 3 needs PostgreSQL" in capsys.readouterr().err


def test_the_workers_get_the_same_settings(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    settings = Settings(database_url="postgresql+asyncpg://u@h/db", port=9000,
                        insecure_dev=True, delivery_allowed_hosts=["hooks.example.org"],
                        demo_keys_dir=tmp_path, rate_limit_sync_seconds=0.25)
    for name, value in settings_environment(settings).items():
        monkeypatch.setenv(name, value)
    assert Settings() == settings
