"""Property-based fuzzing of the documented API: no 5xx, every response as documented."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.e2e.conftest import ServerProcess, start_server

ROOT = Path(__file__).resolve().parents[2]
schema = schemathesis.openapi.from_path(ROOT / "openapi" / "openapi.json")
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("fuzz")
    proc = start_server(f"sqlite+aiosqlite:///{tmp}/fuzz.db", tmp, "--insecure-dev")
    try:
        yield proc
    finally:
        proc.stop()
        log = proc.log.read_text()
        assert "Traceback" not in log, log[-4000:]


@schema.parametrize()
@settings(max_examples=30, deadline=None,
          suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_openapi(case: schemathesis.Case,
                                     fuzz_server: ServerProcess) -> None:
    response = case.call(base_url=fuzz_server.url, timeout=30)
    case.validate_response(response, checks=CHECKS)
