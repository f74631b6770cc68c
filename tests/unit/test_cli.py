"""The command line: options, their EOLC_* variables, migrate and openapi."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eolc_fhir import cli


def test_options_override_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EOLC_PORT", "9000")
    monkeypatch.setenv("EOLC_DATABASE_URL", "sqlite+aiosqlite:///./env.db")
    parser, _ = cli._parser()
    from_env = cli.settings_from(parser.parse_args(["serve"]))
    assert from_env.port == 9000 and from_env.database_url.endswith("env.db")
    assert from_env.insecure_dev is False
    args = parser.parse_args(["serve", "--port", "9100", "--insecure-dev",
                              "--database-url", "sqlite+aiosqlite:///./cli.db"])
    chosen = cli.settings_from(args)
    assert chosen.port == 9100 and chosen.insecure_dev is True
    assert chosen.database_url.endswith("cli.db")


def test_migrate_creates_the_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/m.db"
    assert cli.main(["migrate", "--database-url", url]) == 0
    assert "schema at revision" in capsys.readouterr().out
    assert cli.main(["migrate", "--database-url", url]) == 0  # idempotent


def test_openapi_prints_the_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["openapi"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["info"]["title"] == "eolc-fhir" and "/{resource_type}" in doc["paths"]


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:  # bound, never listening: connections are refused
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_token_without_a_server_says_so_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from eolc_fhir.security.client_side import new_private_key, write_key_file

    key = tmp_path / "client.jwk.json"
    write_key_file(key, new_private_key())
    url = f"http://127.0.0.1:{_closed_port()}"
    assert cli.main(["token", "--client-id", "demo-gp", "--key-file", str(key),
                     "--url", url]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: cannot reach " + url)
    assert "Traceback" not in err and "is the server running?" in err
