"""Logged exceptions keep their types and frames and lose their messages, whoever logs them."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
import sqlalchemy
import uvicorn

from eolc_fhir.logs import MessageWithheldFormatter, configure_logging, uvicorn_log_config

NHS_NUMBER = "9434765919"


@pytest.fixture
def server_log() -> Iterator[io.StringIO]:
    """The root handler `configure_logging` installs in a server process (whose root
    logger has no handler yet), writing to a buffer; the test runner's handlers are put
    back afterwards."""
    root = logging.getLogger()
    kept, level = root.handlers[:], root.level
    for handler in kept:
        root.removeHandler(handler)
    configure_logging("info")
    (ours,) = root.handlers  # pytest adds its capturing handlers again for the test itself
    assert isinstance(ours, logging.StreamHandler)
    assert isinstance(ours.formatter, MessageWithheldFormatter)
    buffer = io.StringIO()
    ours.setStream(buffer)
    yield buffer
    root.removeHandler(ours)
    for handler in kept:
        root.addHandler(handler)
    root.setLevel(level)


def _failing_insert() -> None:
    engine = sqlalchemy.create_engine("sqlite://")
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text("INSERT INTO nowhere VALUES (:n)"), {"n": NHS_NUMBER})


def test_a_database_error_is_logged_without_its_sql_parameters(server_log: io.StringIO) -> None:
    with pytest.raises(sqlalchemy.exc.OperationalError) as caught:
        _failing_insert()
    assert NHS_NUMBER in str(caught.value)  # what the driver would have printed
    try:
        _failing_insert()
    except sqlalchemy.exc.OperationalError:
        logging.getLogger("eolc_fhir.services.subscriptions.dispatcher").exception(
            "dispatcher loop failed; retrying")
    text = server_log.getvalue()
    assert "dispatcher loop failed" in text
    assert "sqlalchemy.exc.OperationalError" in text and "(message withheld)" in text
    assert "in _failing_insert" in text and "test_logs.py" in text
    assert NHS_NUMBER not in text and "INSERT INTO" not in text


def test_uvicorn_records_go_through_the_same_handler(server_log: io.StringIO) -> None:
    uvicorn.Config(app=lambda *a: None, log_config=uvicorn_log_config("info"))
    error_log = logging.getLogger("uvicorn.error")
    assert error_log.handlers == [] and error_log.propagate
    try:
        raise RuntimeError(f"patient {NHS_NUMBER}")
    except RuntimeError:
        error_log.exception("Exception in ASGI application")
    text = server_log.getvalue()
    assert "Exception in ASGI application" in text and "RuntimeError" in text
    assert NHS_NUMBER not in text


def test_configuring_twice_adds_one_handler(server_log: io.StringIO) -> None:
    configure_logging("warning")
    ours = [h for h in logging.getLogger().handlers
            if isinstance(h.formatter, MessageWithheldFormatter)]
    assert len(ours) == 1
    assert logging.getLogger("sqlalchemy.engine").level == logging.WARNING
