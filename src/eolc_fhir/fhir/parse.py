"""The strict FHIR JSON reader: bytes -> checked resource dict, and dict -> stored bytes.

    parse_json(body)          JSON syntax, UTF-8, repeated keys, depth and array limits
    check_resource(resource)  the FHIR R4 JSON format rules (+ the R4B model, when asked)
    parse_resource(body)      both of the above
    dump(resource)            the serialisation we store and serve

Every failure is an ``InvalidRequest`` (400) whose issues carry an IssueType
code and, where there is one, the FHIRPath of the offending element.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from eolc_fhir.fhir._model_check import model_issues
from eolc_fhir.fhir._primitives import json_kind
from eolc_fhir.fhir._walk import walk_resource
from eolc_fhir.fhir.errors import InvalidRequest
from eolc_fhir.fhir.models import is_resource_type, not_r4_type

__all__ = ["parse_json", "check_resource", "parse_resource", "dump"]

_BOM = b"\xef\xbb\xbf"
# Every object key is a closing quote, optional whitespace, then a colon. A string
# containing `\":` also matches, so this count is never below the true key count.
_SPACED_KEY_END = re.compile(rb'"\s+:')


def parse_json(body: bytes, *, max_depth: int = 64, max_array_length: int = 10_000) -> Any:
    """Parse a request body as strict JSON; ``InvalidRequest`` for anything malformed."""
    if body.startswith(_BOM):
        body = body[len(_BOM) :]
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidRequest(_syntax_message(body, error), code="structure") from None
    key_count = _measure(value, 1, max_depth, max_array_length)
    if _key_tokens(body) > key_count:
        _find_repeated_key(body)
    return value


def _key_tokens(body: bytes) -> int:
    # bytes.count is several times faster than a regex over the whole body.
    return body.count(b'":') + len(_SPACED_KEY_END.findall(body))


def _syntax_message(body: bytes, error: orjson.JSONDecodeError) -> str:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"The body is not valid UTF-8 (byte {bad.start})"
    return f"Malformed JSON: {error.msg} at line {error.lineno}, column {error.colno}"


def _measure(value: Any, depth: int, max_depth: int, max_length: int) -> int:
    """Count object keys, refusing nesting deeper than max_depth or arrays over max_length."""
    if isinstance(value, dict):
        _check_depth(depth, max_depth)
        keys = len(value)
        for item in value.values():
            if isinstance(item, dict | list):
                keys += _measure(item, depth + 1, max_depth, max_length)
        return keys
    if isinstance(value, list):
        _check_depth(depth, max_depth)
        if len(value) > max_length:
            raise InvalidRequest(
                f"The JSON has an array of {len(value)} items; at most {max_length} are accepted",
                code="too-costly",
            )
        keys = 0
        for item in value:
            if isinstance(item, dict | list):
                keys += _measure(item, depth + 1, max_depth, max_length)
        return keys
    return 0


def _check_depth(depth: int, max_depth: int) -> None:
    if depth > max_depth:
        raise InvalidRequest(
            f"The JSON is nested more than {max_depth} levels deep", code="too-costly"
        )


def _reject_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise InvalidRequest(
                f"The JSON repeats the property '{key}' in one object;"
                " FHIR JSON forbids repeated properties",
                code="structure",
            )
        seen.add(key)
    return dict(pairs)


def _find_repeated_key(body: bytes) -> None:
    """The slow, exact check, run only when the cheap key count says it is needed."""
    json.loads(body, object_pairs_hook=_reject_repeats)


def check_resource(
    resource: Any, *, expected_type: str | None = None, model_check: bool = False
) -> None:
    """Raise ``InvalidRequest`` listing every problem with ``resource``; return if it is valid.

    The strict walk is the base stage. ``model_check=True`` adds the R4B
    ``model_validate`` pass ($validate asks for it): on the official examples and tens of
    thousands of their mutants it found nothing the walk had not already found
    (tests/unit/test_walk_covers_model.py), and it was the largest single cost of a create
    (a quarter of the server's CPU for a 0.8 KB CarePlan).
    """
    resource_type = _resource_type(resource)
    if expected_type is not None and resource_type != expected_type:
        raise InvalidRequest(
            f"The resourceType is '{resource_type}' but '{expected_type}' was expected",
            expression="resourceType",
            code="invalid",
        )
    issues = walk_resource(resource, resource_type)
    if model_check:
        issues += model_issues(resource, resource_type, issues)
    if issues:
        raise InvalidRequest(issues=issues)


def _resource_type(resource: Any) -> str:
    if not isinstance(resource, dict):
        kind = json_kind(resource)
        raise InvalidRequest(f"A FHIR resource must be a JSON object, not {kind}", code="structure")
    resource_type = resource.get("resourceType")
    if resource_type is None:
        raise InvalidRequest(
            "The resource has no resourceType", expression="resourceType", code="required"
        )
    if not isinstance(resource_type, str):
        raise InvalidRequest(
            "resourceType must be a string", expression="resourceType", code="structure"
        )
    if not is_resource_type(resource_type):
        raise InvalidRequest(
            not_r4_type(resource_type),
            expression="resourceType",
            code="not-supported",
        )
    return resource_type


def parse_resource(
    body: bytes,
    *,
    expected_type: str | None = None,
    max_depth: int = 64,
    max_array_length: int = 10_000,
    model_check: bool = False,
) -> dict[str, Any]:
    """``parse_json`` then ``check_resource``: the request body as a valid resource dict."""
    resource = parse_json(body, max_depth=max_depth, max_array_length=max_array_length)
    check_resource(resource, expected_type=expected_type, model_check=model_check)
    result: dict[str, Any] = resource
    return result


def dump(resource: dict[str, Any]) -> bytes:
    """Compact JSON with the properties in the order they came; what we store and serve."""
    return orjson.dumps(resource)
