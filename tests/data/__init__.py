"""Files the tests read, shipped with the repository (see README.md in this folder).

``data_path("fhir-r4")`` is this folder's ``fhir-r4/``; every test that reads a
fixture file asks here, so no test depends on anything outside the checkout.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DATA_DIR", "data_path", "FHIR_R4_EXAMPLES", "BACKPORT_EXAMPLES"]

DATA_DIR = Path(__file__).resolve().parent


def data_path(*parts: str) -> Path:
    """A path inside tests/data/; fails loudly when the file or folder is missing."""
    path = DATA_DIR.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"test data {path} is missing from the checkout")
    return path


FHIR_R4_EXAMPLES = data_path("fhir-r4")
BACKPORT_EXAMPLES = data_path("subscriptions-backport")
