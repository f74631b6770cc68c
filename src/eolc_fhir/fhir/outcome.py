"""Build OperationOutcome resources from our Issue objects."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eolc_fhir.fhir.errors import Issue

__all__ = ["operation_outcome", "all_ok"]


def operation_outcome(issues: Iterable[Issue]) -> dict[str, Any]:
    out = []
    for issue in issues:
        entry: dict[str, Any] = {
            "severity": issue.severity,
            "code": issue.code,
            "diagnostics": issue.diagnostics,
        }
        if issue.expression:
            entry["expression"] = list(issue.expression)
        out.append(entry)
    if not out:
        out = [{"severity": "information", "code": "informational", "diagnostics": "All OK"}]
    return {"resourceType": "OperationOutcome", "issue": out}


def all_ok(message: str = "All OK") -> dict[str, Any]:
    return operation_outcome([Issue("information", "informational", message)])
