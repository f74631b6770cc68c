"""Fixtures for validation tests: the real profiles folder, loaded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from eolc_fhir.validation import ProfileSet

PROFILES_DIR = Path(__file__).resolve().parents[3] / "profiles"


@pytest.fixture(scope="session")
def profile_set() -> ProfileSet:
    return ProfileSet.load(PROFILES_DIR)
