"""Turn a request body into a resource that passed the base stage of validation.

The profile stage is not here: it runs inside the write path (admission.py),
which every stored resource passes.
"""

from __future__ import annotations

from typing import Any

from eolc_fhir.fhir.parse import parse_resource
from eolc_fhir.services.context import ServerContext

__all__ = ["read_body"]


def read_body(ctx: ServerContext, body: bytes, expected_type: str | None) -> dict[str, Any]:
    """Parse and base-validate a request body (400 on any structural problem)."""
    s = ctx.settings
    return parse_resource(
        body,
        expected_type=expected_type,
        max_depth=s.max_json_depth,
        max_array_length=s.max_array_length,
    )
