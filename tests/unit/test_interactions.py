"""One classification of requests into FHIR interactions, for every front door and the audit."""

from __future__ import annotations

import pytest

from eolc_fhir.fhir.interactions import Target, classify


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("GET", "/", Target("search-system")),
    ("POST", "/", Target("batch / transaction")),
    ("GET", "/_history", Target("history-system")),
    ("GET", "/Flag/_history", Target("history-type", "Flag")),
    ("GET", "/Flag", Target("search-type", "Flag")),
    ("POST", "/Flag/_search", Target("search-type", "Flag")),
    ("POST", "/Flag", Target("create", "Flag")),
    ("PUT", "/Flag", Target("conditional update", "Flag")),
    ("PATCH", "/Flag", Target("conditional patch", "Flag")),
    ("DELETE", "/Flag", Target("conditional delete", "Flag")),
    ("GET", "/Flag/f1", Target("read", "Flag", "f1")),
    ("PUT", "/Flag/f1", Target("update", "Flag", "f1")),
    ("PATCH", "/Flag/f1", Target("patch", "Flag", "f1")),
    ("DELETE", "/Flag/f1", Target("delete", "Flag", "f1")),
    ("GET", "/Flag/f1/_history", Target("history-instance", "Flag", "f1")),
    ("GET", "/Flag/f1/_history/3", Target("vread", "Flag", "f1")),
    ("GET", "/Patient/$wishes", Target("operation", "Patient", None, "wishes")),
    ("GET", "/Patient/p1/$wishes", Target("operation", "Patient", "p1", "wishes")),
    ("GET", "/Patient/p1/$everything", Target("operation", "Patient", "p1", "everything")),
    ("POST", "/$export", Target("operation", None, None, "export")),
    ("GET", "/Subscription/s1/$events", Target("operation", "Subscription", "s1", "events")),
])
def test_classify(method: str, path: str, expected: Target) -> None:
    assert classify(method, path) == expected
