"""One error model: one mapping from errors to HTTP status and issue code, one FHIR id
pattern."""

from __future__ import annotations

import re
from pathlib import Path

from eolc_fhir.fhir import errors
from eolc_fhir.fhir.errors import FhirError, ServiceUnavailable, error_for_status, issue_code
from eolc_fhir.fhir.ids import is_valid_id

SRC = Path(__file__).resolve().parents[2] / "src" / "eolc_fhir"
ISSUE_CODES = {"invalid", "login", "forbidden", "not-found", "not-supported", "conflict",
               "deleted", "too-costly", "processing", "throttled", "exception", "transient"}


def _classes() -> list[type[FhirError]]:
    return [getattr(errors, name) for name in errors.__all__
            if isinstance(getattr(errors, name), type)
            and issubclass(getattr(errors, name), FhirError) and name != "FhirError"]


def test_each_error_class_is_one_row_of_the_mapping() -> None:
    classes = _classes()
    assert len({cls.status for cls in classes}) == len(classes)
    for cls in classes:
        assert issue_code(cls.status) == cls.code
        made = error_for_status(cls.status, "text", {"X-A": "1"})
        assert type(made) is cls and made.headers["X-A"] == "1"
        assert made.issues[0].code == cls.code and made.issues[0].diagnostics == "text"
    assert issue_code(418) == "invalid" and issue_code(502) == "exception"
    odd = error_for_status(418, "teapot")
    assert (odd.status, odd.issues[0].code) == (418, "invalid")
    assert error_for_status(500, "x").issues[0].severity == "fatal"


def test_service_unavailable_says_when_to_retry() -> None:
    error = ServiceUnavailable("busy", retry_after=7)
    assert (error.status, error.issues[0].code, error.headers) == (503, "transient",
                                                                   {"Retry-After": "7"})
    assert ServiceUnavailable().headers["Retry-After"] == "5"


def test_no_other_module_maps_statuses_to_issue_codes() -> None:
    mapping = re.compile(r"\b[45]\d\d\s*:\s*\"([a-z-]+)\"")
    found = []
    for path in SRC.rglob("*.py"):
        if path.name == "errors.py" and path.parent.name == "fhir":
            continue
        found += [f"{path.relative_to(SRC)}: {code}" for code in mapping.findall(
            path.read_text()) if code in ISSUE_CODES]
    assert found == [], "use fhir.errors.issue_code / error_for_status"


def test_one_fhir_id_pattern() -> None:
    assert is_valid_id("a") and is_valid_id("Abc-1.2") and is_valid_id("x" * 64)
    for bad in ("", "x" * 65, "$foo", "a b", "abc\n", "a/b", "é"):
        assert not is_valid_id(bad), bad
    pattern = re.compile(r"A-Za-z0-9\\\\?-\.")
    copies = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
              if pattern.search(p.read_text())]
    assert copies == ["fhir/ids.py"]
