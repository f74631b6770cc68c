"""The newcomer's path on a real server: demo clients at start, `eolc-fhir token`, a request."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from eolc_fhir.cli import main
from tests.e2e.conftest import start_server

pytestmark = pytest.mark.e2e


def test_demo_clients_then_token_then_request(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    keys = tmp_path / "keys"
    server = start_server(f"sqlite+aiosqlite:///{tmp_path}/newcomer.db", tmp_path,
                          env={"EOLC_DEMO_CLIENTS": "1", "EOLC_DEMO_KEYS_DIR": str(keys)})
    try:
        assert "eolc-fhir token --client-id demo-gp" in server.log.read_text()
        assert sorted(p.name for p in keys.iterdir())[0] == "demo-admin.jwk.json"
        assert oct(keys.joinpath("demo-gp.jwk.json").stat().st_mode & 0o777) == "0o600"
        capsys.readouterr()
        assert main(["token", "--client-id", "demo-ambulance", "--key-file",
                     str(keys / "demo-ambulance.jwk.json"), "--url", server.url]) == 0
        token = capsys.readouterr().out.strip()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
        assert httpx.get(f"{server.url}/Patient", headers=headers).status_code == 200
        refused = httpx.post(f"{server.url}/Patient", headers=headers,
                             content=b'{"resourceType": "Patient"}')
        assert refused.status_code == 403
        assert httpx.get(f"{server.url}/Patient").status_code == 401
        assert main(["token", "--client-id", "demo-ambulance", "--key-file",
                     str(keys / "demo-gp.jwk.json"), "--url", server.url]) == 1  # wrong key
    finally:
        server.stop()
    before = keys.joinpath("demo-gp.jwk.json").read_text()
    again = start_server(f"sqlite+aiosqlite:///{tmp_path}/newcomer.db", tmp_path,
                         env={"EOLC_DEMO_CLIENTS": "1", "EOLC_DEMO_KEYS_DIR": str(keys)})
    try:  # a restart keeps the registered clients and their keys
        assert keys.joinpath("demo-gp.jwk.json").read_text() == before
        assert main(["token", "--client-id", "demo-gp", "--key-file",
                     str(keys / "demo-gp.jwk.json"), "--url", again.url]) == 0
    finally:
        again.stop()
