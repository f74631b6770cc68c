"""FHIR logical ids: the one pattern every check of an id uses."""

from __future__ import annotations

import re

__all__ = ["ID_PATTERN", "ID_RE", "is_valid_id"]

# http://hl7.org/fhir/R4/datatypes.html#id
ID_PATTERN = r"[A-Za-z0-9\-.]{1,64}"
ID_RE = re.compile(ID_PATTERN)


def is_valid_id(value: str) -> bool:
    """Is ``value`` a FHIR id (1-64 of A-Z a-z 0-9 - .)?"""
    return ID_RE.fullmatch(value) is not None
