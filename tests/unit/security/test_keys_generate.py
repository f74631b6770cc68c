"""eolc-fhir keys generate: a client's key pair, ready to register and to sign assertions."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from eolc_fhir.cli import main
from eolc_fhir.security.assertion import check_assertion
from eolc_fhir.security.client_side import make_assertion, read_key_file
from eolc_fhir.security.clients import JwksCache, key_set, new_client
from eolc_fhir.storage.security_repo import ClientRecord

TOKEN_URL = "https://eolc.example.org/auth/token"


def _generate(tmp_path: Path, *extra: str) -> int:
    return main(["keys", "generate", "--out-dir", str(tmp_path / "keys"),
                 "--name", "riverside-ehr", *extra])


def _register(jwks_file: Path) -> ClientRecord:
    return new_client(client_id="riverside-ehr", name="Riverside Hospital EHR", ods="RH801",
                      role="hospital", scopes=None, jwks=json.loads(jwks_file.read_text()),
                      jwks_uri=None)


async def _verify(assertion: str, client: ClientRecord) -> ClientRecord:
    async def find(client_id: str) -> ClientRecord | None:
        return client if client_id == client.client_id else None

    async def fresh_jti(client_id: str, jti: str, exp: int) -> bool:
        return True

    async def no_fetch(uri: str) -> dict[str, object]:
        raise AssertionError("a registered JWKS needs no fetching")

    return await check_assertion(assertion, token_url=TOKEN_URL, find_client=find,
                                 jwks=JwksCache(no_fetch), use_jti=fresh_jti)


@pytest.mark.parametrize(("alg", "kty"), [("ES384", "EC"), ("RS384", "RSA"), (None, "EC")])
async def test_generated_keys_register_and_sign_an_assertion_that_verifies(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], alg: str | None, kty: str) -> None:
    assert _generate(tmp_path, *(["--alg", alg] if alg else [])) == 0
    out = capsys.readouterr().out
    private = tmp_path / "keys/riverside-ehr.private.pem"
    public = tmp_path / "keys/riverside-ehr.jwks.json"
    assert str(private) in out and str(public) in out
    assert "PRIVATE KEY-----" not in out  # named, never printed
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----")

    jwks = json.loads(public.read_text())
    [entry] = jwks["keys"]
    assert entry["kty"] == kty and entry["alg"] == (alg or "ES384") and entry["use"] == "sig"
    assert entry["kid"] and entry["kid"] in out
    assert not {"d", "p", "q"} & set(entry)
    assert len(key_set(jwks).keys) == 1

    key = read_key_file(private)
    assert key.kid == entry["kid"]  # the thumbprint: the same from the PEM as in the JWKS
    client = _register(public)
    verified = await _verify(make_assertion("riverside-ehr", key, TOKEN_URL), client)
    assert verified.client_id == "riverside-ehr"


async def test_an_assertion_from_another_key_does_not_verify(tmp_path: Path) -> None:
    assert _generate(tmp_path) == 0
    assert main(["keys", "generate", "--out-dir", str(tmp_path / "other")]) == 0
    stranger = read_key_file(tmp_path / "other/client.private.pem")
    client = _register(tmp_path / "keys/riverside-ehr.jwks.json")
    with pytest.raises(Exception, match="does not verify"):
        await _verify(make_assertion("riverside-ehr", stranger, TOKEN_URL), client)


def test_existing_files_are_never_overwritten(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert _generate(tmp_path) == 0
    folder = tmp_path / "keys"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    capsys.readouterr()
    assert _generate(tmp_path) == 1
    assert _generate(tmp_path, "--alg", "RS384") == 1
    assert "refusing to overwrite" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    # One file left from an earlier run is enough to refuse.
    (folder / "riverside-ehr.private.pem").unlink()
    assert _generate(tmp_path) == 1
    assert not (folder / "riverside-ehr.private.pem").exists()


def test_stdout_prints_the_private_key_instead_of_writing_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _generate(tmp_path, "--stdout") == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("-----BEGIN PRIVATE KEY-----")
    assert "wrote" not in captured.out and "riverside-ehr.jwks.json" in captured.err
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == ["riverside-ehr.jwks.json"]
    pem = tmp_path / "from-stdout.pem"
    pem.write_text(captured.out)
    jwks = json.loads((tmp_path / "keys/riverside-ehr.jwks.json").read_text())
    assert read_key_file(pem).kid == jwks["keys"][0]["kid"]


def test_a_public_key_file_cannot_sign(tmp_path: Path) -> None:
    assert _generate(tmp_path) == 0
    key = read_key_file(tmp_path / "keys/riverside-ehr.private.pem")
    public = tmp_path / "public.pem"
    public.write_bytes(key.as_pem(private=False))
    with pytest.raises(ValueError, match="public key"):
        read_key_file(public)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ValueError, match="no RSA or EC key"):
        read_key_file(garbage)
