"""An unexpected exception is answered 500 and logged WITH its traceback (types, files,
lines, functions) but WITHOUT any exception's message: with authentication on and off."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from eolc_fhir.api.errors import crash_report
from eolc_fhir.services.resources import history
from tests.security_support import SecureApp, secure, secure_settings

__all__ = ["secure", "secure_settings"]

NHS_NUMBER = "9434765919"
CLINICAL = "Mrs Example declines resuscitation"


def _inner() -> None:
    {}[NHS_NUMBER]  # a KeyError whose message is the NHS number


async def _explode(*_args: Any, **_kwargs: Any) -> bytes:
    try:
        _inner()
    except KeyError as exc:
        raise ValueError(f"{CLINICAL}, NHS number {NHS_NUMBER}") from exc
    raise AssertionError("unreachable")


def assert_logged_without_data(response: httpx.Response, caplog: pytest.LogCaptureFixture) -> None:
    assert response.status_code == 500
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "exception"
    assert NHS_NUMBER not in response.text and "Mrs Example" not in response.text
    crashes = [r.getMessage() for r in caplog.records if "internal error" in r.getMessage()]
    assert len(crashes) == 1, caplog.text
    line = crashes[0]
    # the traceback: both exceptions' types and the frames that raised them
    assert "ValueError" in line and "KeyError" in line and "direct cause" in line
    assert "test_crash_logging.py" in line and "in _explode" in line and "in _inner" in line
    assert "rest.py" in line and "in history_instance" in line  # the server's frames too
    # and nothing of what the messages said
    assert NHS_NUMBER not in caplog.text
    assert "Mrs Example" not in caplog.text and "resuscitation" not in caplog.text


@pytest.mark.engines("sqlite")
async def test_crash_with_auth_on_logs_traceback_not_data(
        secure: SecureApp, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    admin = await secure.headers("admin")
    monkeypatch.setattr(history, "history", _explode)
    caplog.set_level(logging.INFO)
    response = await secure.http.get("/Patient/p1/_history", headers=admin)
    assert_logged_without_data(response, caplog)
    assert response.headers["x-request-id"] in caplog.text  # which request failed


@pytest.mark.engines("sqlite")
async def test_crash_with_auth_off_logs_traceback_not_data(
        client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history, "history", _explode)
    caplog.set_level(logging.INFO)
    # The app answers itself: nothing escapes to the server, which would log the text.
    response = await client.get("/Patient/p1/_history")
    assert_logged_without_data(response, caplog)


def test_crash_report_keeps_frames_and_drops_messages() -> None:
    try:
        try:
            _inner()
        except KeyError:
            raise OSError(5, f"I/O error reading {CLINICAL}") from None
    except OSError as exc:
        report = crash_report(exc)
    assert "OSError [errno=5]" in report and "in _inner" not in report  # context suppressed
    assert "test_crash_report_keeps_frames_and_drops_messages" in report
    assert CLINICAL not in report and NHS_NUMBER not in report
    assert "\n" not in report  # one log line
