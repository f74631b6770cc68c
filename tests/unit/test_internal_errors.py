"""A crash becomes a 500 OperationOutcome, and its text (maybe patient data) is not logged."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI

from eolc_fhir.api.errors import install_error_handlers


async def test_unexpected_error_is_a_500_outcome_without_its_text(
        caplog: pytest.LogCaptureFixture) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise ValueError("Mrs Example, NHS number 9912003888")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        with caplog.at_level(logging.ERROR):
            resp = await http.get("/boom")
    assert resp.status_code == 500
    body = resp.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "exception"
    assert "9912003888" not in resp.text
    assert "ValueError" in caplog.text and "boom" in caplog.text  # type and where
    assert "test_internal_errors.py" in caplog.text and "(message withheld)" in caplog.text
    assert "GET /boom" in caplog.text  # which request
    assert "9912003888" not in caplog.text and "Mrs Example" not in caplog.text
