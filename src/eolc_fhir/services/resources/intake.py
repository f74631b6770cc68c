"""Turn a request body into a resource that passed the base stage of validation.

The profile stage is not here: it runs inside the write path (admission.py),
which every stored resource passes. A ``batch`` Bundle is the one body checked
in parts: each of its entries succeeds or fails on its own (``read_bundle``).
"""

from __future__ import annotations

from typing import Any

from eolc_fhir.fhir.errors import FhirError, InvalidRequest, Issue
from eolc_fhir.fhir.parse import check_resource, parse_json, parse_resource
from eolc_fhir.services.context import ServerContext

__all__ = ["read_body", "read_bundle"]


def read_body(ctx: ServerContext, body: bytes, expected_type: str | None, *,
              model_check: bool = False) -> dict[str, Any]:
    """Parse and base-validate a request body (400 on any structural problem);
    ``model_check``: the R4B model pass as well (``$validate``)."""
    s = ctx.settings
    return parse_resource(
        body,
        expected_type=expected_type,
        max_depth=s.max_json_depth,
        max_array_length=s.max_array_length,
        model_check=model_check,
    )


def read_bundle(ctx: ServerContext, body: bytes) -> tuple[dict[str, Any], dict[int, FhirError]]:
    """A batch or transaction Bundle, and the batch entries refused by the base stage.

    Checked whole first (the common case costs nothing more). When that fails and
    the body is a JSON ``batch``, the Bundle is checked without its entries (a fault
    there is still a 400) and each entry on its own: a malformed entry is refused
    alone, by its index, and the others still run. A transaction is all or nothing.
    """
    try:
        return read_body(ctx, body, "Bundle"), {}
    except InvalidRequest:
        s = ctx.settings
        value = parse_json(body, max_depth=s.max_json_depth, max_array_length=s.max_array_length)
        if not (isinstance(value, dict) and value.get("type") == "batch"
                and isinstance(value.get("entry"), list)):
            raise
    bundle: dict[str, Any] = value
    check_resource({k: v for k, v in bundle.items() if k != "entry"}, expected_type="Bundle")
    refused: dict[int, FhirError] = {}
    for index, entry in enumerate(bundle["entry"]):
        try:
            check_resource({"resourceType": "Bundle", "type": "batch", "entry": [entry]})
        except InvalidRequest as exc:
            refused[index] = InvalidRequest(issues=[_at_entry(i, index) for i in exc.issues])
    return bundle, refused


def _at_entry(issue: Issue, index: int) -> Issue:
    """An issue found in a one-entry Bundle, re-pointed at the entry's place in the batch."""
    here, there = "Bundle.entry[0]", f"Bundle.entry[{index}]"
    return Issue(issue.severity, issue.code, issue.diagnostics.replace(here, there, 1),
                 tuple(e.replace(here, there, 1) for e in issue.expression))
