"""What the answer of each patient operation carries, for the authorization step.

An operation whose answer must be whole (a document) names every resource type
it may hold; the caller needs read access to all of them, or is refused.
"""

from __future__ import annotations

from eolc_fhir.services.wishes.document import DOCUMENT_TYPES

__all__ = ["operation_reads"]

_READS: dict[str, tuple[str, ...]] = {"wishes": DOCUMENT_TYPES}


def operation_reads(operation: str | None) -> tuple[str, ...]:
    """The types ``$operation``'s answer may hold, when it must reach the caller whole."""
    return _READS.get(operation or "", ())
