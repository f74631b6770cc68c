"""openapi/openapi.json is generated from the app and must be up to date."""

from __future__ import annotations

import json
from pathlib import Path

from eolc_fhir.app import create_app
from eolc_fhir.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_openapi_file_is_current() -> None:
    generated = create_app(Settings()).openapi()
    stored = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    assert stored == json.loads(json.dumps(generated)), (
        "openapi/openapi.json is out of date: run `make openapi`"
    )


def test_fhir_bodies_are_declared_as_fhir_json() -> None:
    doc = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    create = doc["paths"]["/{resource_type}"]["post"]
    assert "application/fhir+json" in create["requestBody"]["content"]
    assert "default" in create["responses"]
