"""_text and _content: a resource's words (narrative, or every string) and how to match them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from typing import Any

from eolc_fhir.fhir.errors import InvalidRequest
from eolc_fhir.search.values import normalise
from eolc_fhir.storage.model import TextRow
from eolc_fhir.storage.query import Criterion, StringTest

__all__ = ["TEXT_PARAMS", "text_rows", "text_criterion"]

TEXT_PARAMS = ("_text", "_content")
_TAG = re.compile(r"<[^>]*>")
_WORD = re.compile(r"\w+")
_MAX_CHARS = 100_000  # a resource's word list beyond this is not searched (a big attachment)
# Values that are identifiers of things rather than prose: left out of _content.
_SKIP_KEYS = frozenset({"resourceType", "id", "div", "reference", "system", "url", "profile",
                        "lastUpdated", "versionId", "data", "fullUrl"})


def _words(text: str) -> str:
    """Lower case, accents removed, one space apart, padded: ``" end of life "``."""
    return " " + " ".join(_WORD.findall(normalise(text)))[:_MAX_CHARS] + " "


def _narrative(resource: dict[str, Any]) -> str:
    text = resource.get("text")
    div = text.get("div") if isinstance(text, dict) else None
    return unescape(_TAG.sub(" ", div)) if isinstance(div, str) else ""


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key not in _SKIP_KEYS:
                yield from _strings(value)


def text_rows(resource: dict[str, Any]) -> list[TextRow]:
    """The ``_text`` row (narrative words) and the ``_content`` row (every string's words)."""
    narrative = _narrative(resource)
    rows = [TextRow("_text", _words(narrative))] if narrative.strip() else []
    content = " ".join([narrative, *_strings(resource)])
    if content.strip():
        rows.append(TextRow("_content", _words(content)))
    return rows


def text_criterion(param: str, value: str) -> Criterion:
    """A word or phrase (comma: OR) found at the start of a word of the text."""
    tests = []
    for part in value.split(","):
        words = _WORD.findall(normalise(part))
        if not words:
            raise InvalidRequest(f"{param} needs a word to look for, not {part!r}",
                                 expression=param)
        tests.append(StringTest(" " + " ".join(words), "contains"))
    return Criterion("text", param, tuple(tests))
