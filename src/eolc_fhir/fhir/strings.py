"""Text the server puts into a resource, made a valid FHIR string."""

from __future__ import annotations

from eolc_fhir.fhir._primitives import _CONTROL_RE  # the rule the strict walk applies

__all__ = ["printable"]


def printable(value: str) -> str:
    """``value`` with the control characters a FHIR string cannot hold (C0 other than tab,
    LF and CR) replaced by U+FFFD: for text that came from outside (a request's path or
    error, a webhook receiver's failure) and goes into a resource we write ourselves."""
    return _CONTROL_RE.sub("\ufffd", value)
