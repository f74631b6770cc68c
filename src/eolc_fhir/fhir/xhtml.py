"""Narrative XHTML checks: txt-1/txt-2 of http://hl7.org/fhir/R4/narrative.html, safely.

A narrative ``div`` must be well-formed XML, a ``<div>`` in the XHTML
namespace at the root, use only the HTML 4 formatting elements and attributes
the R4 invariant txt-1 lists, and carry some non-whitespace text or an image
(txt-2). On top of the list we refuse script-capable URLs (``javascript:``
and friends) and CSS that can run code, because the div is shown to people.

The parser is expat with every DTD feature refused: a DOCTYPE, an entity
declaration or an external entity reference stops parsing at once, so no
entity expansion ("billion laughs") or external fetch can happen.
"""

from __future__ import annotations

import re
from functools import lru_cache
from xml.parsers import expat

__all__ = ["XHTML_NS", "ALLOWED_ELEMENTS", "ALLOWED_ATTRIBUTES", "check_div"]

XHTML_NS = "http://www.w3.org/1999/xhtml"
_XML_NS = "http://www.w3.org/XML/1998/namespace"

# The element and attribute lists of the R4 txt-1 invariant (its XPath form).
ALLOWED_ELEMENTS = frozenset(
    "a abbr acronym b big blockquote br caption cite code col colgroup dd dfn "
    "div dl dt em h1 h2 h3 h4 h5 h6 hr i img li ol p pre q samp small span "
    "strong sub sup table tbody td tfoot th thead tr tt ul var".split()
)
ALLOWED_ATTRIBUTES = frozenset(
    "abbr accesskey align alt axis bgcolor border cellhalign cellpadding "
    "cellspacing cellvalign char charoff charset cite class colspan compact "
    "coords dir frame headers height href hreflang hspace id lang longdesc "
    "name nowrap rel rev rowspan rules scope shape span src start style "
    "summary tabindex title type valign value vspace width".split()
)
_URL_ATTRIBUTES = frozenset({"href", "src", "cite", "longdesc"})
# expat reports "namespace local" names; these sets let the common case skip splitting.
_ALLOWED_NAMES = frozenset(f"{XHTML_NS} {name}" for name in ALLOWED_ELEMENTS - {"img"})
_IMG = f"{XHTML_NS} img"
_PLAIN_ATTRIBUTES = ALLOWED_ATTRIBUTES - _URL_ATTRIBUTES - {"style"}
# Browsers ignore control characters and whitespace inside a scheme.
_IGNORED_IN_SCHEME = re.compile(r"[\x00-\x20]+")
_UNSAFE_SCHEMES = ("javascript:", "vbscript:", "data:text/html", "livescript:")
_UNSAFE_CSS = re.compile(r"expression\s*\(|javascript:|vbscript:|-moz-binding|behavior\s*:|@import")
_MAX_PROBLEMS = 10


class _Refused(Exception):
    """Raised from an expat handler to stop at a construct we never accept."""


class _DivChecker:
    """Collects txt-1/txt-2 problems while expat walks the markup."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.seen_root = False
        self.has_content = False

    def start(self, name: str, attributes: dict[str, str]) -> None:
        # Fast path first: most elements are allowed and carry plain attributes.
        if name not in _ALLOWED_NAMES or not self.seen_root:
            self._check_element(name, attributes)
        for attribute, value in attributes.items():
            if attribute not in _PLAIN_ATTRIBUTES:
                self._check_attribute(name.rpartition(" ")[2], attribute, value)

    def _check_element(self, name: str, attributes: dict[str, str]) -> None:
        namespace, _, local = name.rpartition(" ")
        if not self.seen_root:
            self.seen_root = True
            if namespace != XHTML_NS or local != "div":
                self._add(f"the root must be a <div> in the XHTML namespace ({XHTML_NS})")
        elif namespace != XHTML_NS:
            self._add(f"element <{local}> is not in the XHTML namespace")
        elif local not in ALLOWED_ELEMENTS:
            self._add(f"element <{local}> is not allowed in a narrative")
        if name == _IMG and attributes.get("src"):
            self.has_content = True

    def text(self, data: str) -> None:
        if not self.has_content and data.strip(" \t\r\n"):
            self.has_content = True

    def _check_attribute(self, element: str, attribute: str, value: str) -> None:
        namespace, _, local = attribute.rpartition(" ")
        if namespace == _XML_NS and local == "lang":
            return
        if namespace or local not in ALLOWED_ATTRIBUTES:
            self._add(f"attribute '{local}' on <{element}> is not allowed in a narrative")
        elif local in _URL_ATTRIBUTES and _is_unsafe_url(value):
            self._add(f"attribute '{local}' on <{element}> uses a script URL")
        elif local == "style" and _UNSAFE_CSS.search(value.lower()):
            self._add(f"the style on <{element}> contains script-capable CSS")

    def _add(self, problem: str) -> None:
        if len(self.problems) < _MAX_PROBLEMS and problem not in self.problems:
            self.problems.append(problem)


def _is_unsafe_url(value: str) -> bool:
    compact = _IGNORED_IN_SCHEME.sub("", value).lower()
    return compact.startswith(_UNSAFE_SCHEMES)


def _refuse(what: str):  # type: ignore[no-untyped-def]
    def handler(*_: object) -> None:
        raise _Refused(what)

    return handler


def _parser() -> tuple[expat.XMLParserType, _DivChecker]:
    parser = expat.ParserCreate(encoding="utf-8", namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    # One text callback per run of text instead of one per line or entity.
    parser.buffer_text = True
    checker = _DivChecker()
    parser.StartElementHandler = checker.start
    parser.CharacterDataHandler = checker.text
    parser.StartDoctypeDeclHandler = _refuse("a DOCTYPE declaration is not allowed")
    parser.EntityDeclHandler = _refuse("entity declarations are not allowed")
    parser.UnparsedEntityDeclHandler = _refuse("entity declarations are not allowed")
    parser.ExternalEntityRefHandler = _refuse("external entities are not allowed")
    parser.ProcessingInstructionHandler = _refuse("processing instructions are not allowed")
    return parser, checker


def check_div(div: str) -> list[str]:
    """Every problem with ``div`` as FHIR narrative XHTML; an empty list if it is fine."""
    return list(_problems(div))


# An update usually resends the narrative it read; a verdict is pure, so keep a few.
@lru_cache(maxsize=256)
def _problems(div: str) -> tuple[str, ...]:
    parser, checker = _parser()
    try:
        parser.Parse(div.encode("utf-8", "surrogatepass"), True)
    except _Refused as refused:
        return (str(refused),)
    except expat.ExpatError as error:
        reason = expat.ErrorString(error.code)
        where = f"line {error.lineno}, column {error.offset + 1}"
        return (f"is not well-formed XHTML ({reason} at {where})",)
    problems = checker.problems
    if not checker.has_content:
        problems.append("the narrative must have some non-whitespace content (txt-2)")
    return tuple(problems)
