"""`eolc-fhir demo` from the command line: loads once, then --if-empty leaves it alone."""

from __future__ import annotations

import pytest

from eolc_fhir.cli import main


@pytest.mark.engines("sqlite")
def test_demo_command_loads_then_skips(migrated_url: str, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EOLC_INSECURE_DEV", "true")
    assert main(["demo", "--patients", "4", "--seed", "2", "--database-url", migrated_url]) == 0
    assert "demo: 4 patients" in capsys.readouterr().out
    assert main(["demo", "--if-empty", "--patients", "4", "--database-url", migrated_url]) == 0
    assert "nothing loaded" in capsys.readouterr().out
    assert main(["demo", "--patients", "4", "--seed", "2", "--database-url", migrated_url]) == 0
    assert "already loaded" in capsys.readouterr().out
