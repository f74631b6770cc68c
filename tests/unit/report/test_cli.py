"""`eolc-fhir report` refuses bad options before it opens anything; its progress bar's manners."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from eolc_fhir.cli import main
from eolc_fhir.report import cli as report_cli


@pytest.mark.parametrize(("options", "message"), [
    (["--period", "2026-Q5"], "--period '2026-Q5': expected a calendar quarter written YYYY-Qn"),
    (["--period", "Q3"], "e.g. 2026-Q3"),
    (["--period", "2026-Q3", "--practice", "Y0 1/"], "--practice 'Y0 1/': expected an ODS code"),
])
def test_bad_options_exit_2_with_a_clear_error_and_touch_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str],
        message: str) -> None:
    database = tmp_path / "eolc.db"
    out = tmp_path / "out"
    code = main(["report", *options, "--out", str(out),
                 "--database-url", f"sqlite+aiosqlite:///{database}"])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not database.exists() and not out.exists()


def test_an_unfinished_quarter_is_warned_about_and_out_must_be_a_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    database, out = tmp_path / "eolc.db", tmp_path / "a-file"
    out.write_text("not a folder")
    assert main(["report", "--period", "2999-Q1", "--out", str(out),
                 "--database-url", f"sqlite+aiosqlite:///{database}"]) == 2
    err = capsys.readouterr().err
    assert "warning: 2999-Q1 has not ended yet: its figures are partial" in err
    assert f"error: --out {out}: {out} exists and is not a folder" in err
    assert main(["report", "--period", "2026-Q3", "--out", str(out / "inside"),
                 "--database-url", f"sqlite+aiosqlite:///{database}"]) == 2
    assert f"{out} exists and is not a folder" in capsys.readouterr().err
    assert not database.exists()


def test_the_period_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["report"])
    assert stopped.value.code == 2
    assert "--period" in capsys.readouterr().err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run_steps(quiet: bool) -> None:
    with report_cli._progress(3, quiet) as step:
        for label in ("Deaths in hospital 2026-Q1", "[bold]x", "done"):
            step(label)


def test_the_progress_bar_shows_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich alone would draw into a pipe with this
    _run_steps(quiet=False)  # stderr is pytest's capture: not a terminal
    assert capsys.readouterr().err == ""
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    _run_steps(quiet=True)
    assert terminal.getvalue() == ""
    _run_steps(quiet=False)
    assert "3/3" in terminal.getvalue()
