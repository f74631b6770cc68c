"""eolc-fhir clients add|list|remove and keys rotate, against a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eolc_fhir.cli import main
from eolc_fhir.security.client_side import new_private_key, public_jwks


def test_clients_add_list_remove_and_keys_rotate(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--database-url", f"sqlite+aiosqlite:///{tmp_path}/cli.db"]
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(public_jwks(new_private_key())))
    add = ["clients", "add", "--client-id", "hosp-1", "--name", "Riverside", "--ods", "RH801",
           "--role", "hospital", "--jwks-file", str(jwks), *db]
    assert main(add) == 0
    assert main([*add[:-2], "--scope", "system/*.rs", *db]) == 1  # taken
    assert main(["clients", "add", "--client-id", "x", "--name", "n", "--ods", "bad ods",
                 "--role", "gp", "--jwks-uri", "https://k.example.org/jwks", *db]) == 2
    assert main(["clients", "add", "--client-id", "uri-1", "--name", "n", "--ods", "Y01234",
                 "--role", "gp", "--jwks-uri", "https://k.example.org/jwks",
                 "--scope", "system/CarePlan.rs", *db]) == 0
    capsys.readouterr()
    assert main(["clients", "list", *db]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[:3] for line in listed] == [
        ["hosp-1", "hospital", "RH801"], ["uri-1", "gp", "Y01234"]]
    assert "system/*.crus" in listed[0] and "system/CarePlan.rs" in listed[1]
    assert main(["clients", "remove", "--client-id", "hosp-1", *db]) == 0
    assert main(["clients", "remove", "--client-id", "hosp-1", *db]) == 1
    assert main(["keys", "rotate", *db]) == 0
    assert "new signing key" in capsys.readouterr().out


def test_a_jwks_with_private_keys_is_refused(tmp_path: Path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [new_private_key().as_dict(private=True)]}))
    code = main(["clients", "add", "--client-id", "c", "--name", "n", "--ods", "Y01234",
                 "--role", "gp", "--jwks-file", str(jwks),
                 "--database-url", f"sqlite+aiosqlite:///{tmp_path}/cli.db"])
    assert code == 2


def test_a_client_rate_limit_is_set_at_registration_shown_and_changed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--database-url", f"sqlite+aiosqlite:///{tmp_path}/cli.db"]
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(public_jwks(new_private_key())))

    def add(client_id: str, *extra: str) -> int:
        return main(["clients", "add", "--client-id", client_id, "--name", "n", "--ods",
                     "RYC01", "--role", "ambulance", "--jwks-file", str(jwks), *extra, *db])

    assert add("crews", "--rate-limit", "6000") == 0
    assert add("plain") == 0
    assert add("bad", "--rate-limit", "-1") == 2

    def limits() -> dict[str, str]:
        capsys.readouterr()
        assert main(["clients", "list", *db]) == 0
        return {line.split("\t")[0]: line.split("\t")[-1]
                for line in capsys.readouterr().out.splitlines()}

    assert limits() == {"crews": "rate limit 6000/min", "plain": "rate limit default"}
    assert main(["clients", "set-rate-limit", "--client-id", "plain", "0", *db]) == 0
    assert main(["clients", "set-rate-limit", "--client-id", "crews", "default", *db]) == 0
    assert main(["clients", "set-rate-limit", "--client-id", "nobody", "5", *db]) == 1
    assert main(["clients", "set-rate-limit", "--client-id", "plain", "lots", *db]) == 2
    assert limits() == {"crews": "rate limit default", "plain": "rate limit none"}
