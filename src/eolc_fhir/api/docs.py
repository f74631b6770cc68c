"""OpenAPI fragments: FHIR JSON bodies and OperationOutcome errors, for tools that fuzz.

Answers are also documented in FHIR XML (``Accept: application/fhir+xml`` or
``_format=xml``). Request bodies in XML are accepted too but are not declared,
so that fuzzers keep to the JSON the schema can describe.
"""

from __future__ import annotations

from typing import Any

__all__ = ["fhir_body", "fhir_responses", "patch_body", "with_html_page", "RESOURCE_SCHEMA",
           "OUTCOME_SCHEMA"]

FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"
_XML_SCHEMA: dict[str, Any] = {"type": "string",
                               "description": "the same resource in FHIR XML"}

RESOURCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["resourceType"],
    "properties": {"resourceType": {"type": "string"}, "id": {"type": "string"}},
    "additionalProperties": True,
}

OUTCOME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
        "issue": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["severity", "code"],
                "properties": {
                    "severity": {"type": "string"},
                    "code": {"type": "string"},
                    "diagnostics": {"type": "string"},
                    "expression": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}


def _content(schema: dict[str, Any]) -> dict[str, Any]:
    return {FHIR_JSON: {"schema": schema}, "application/json": {"schema": schema}}


def _answer(schema: dict[str, Any]) -> dict[str, Any]:
    return {**_content(schema), FHIR_XML: {"schema": _XML_SCHEMA}}


def fhir_body(description: str = "A FHIR resource in JSON", *,
              form: bool = False) -> dict[str, Any]:
    """openapi_extra declaring a FHIR JSON request body (or a search form)."""
    if form:
        content = {"application/x-www-form-urlencoded": {
            "schema": {"type": "object", "additionalProperties": {"type": "string"}}}}
        return {"requestBody": {"required": False, "content": content}}
    return {"requestBody": {"required": True, "description": description,
                            "content": _content(RESOURCE_SCHEMA)}}


def patch_body() -> dict[str, Any]:
    """openapi_extra of PATCH: a JSON Patch array, or a FHIRPath Patch Parameters resource."""
    operations = {"type": "array", "minItems": 1, "items": {
        "type": "object", "required": ["op", "path"],
        "properties": {"op": {"type": "string", "enum": ["add", "remove", "replace", "move",
                                                          "copy", "test"]},
                       "path": {"type": "string"}, "from": {"type": "string"}, "value": {}}}}
    content = {"application/json-patch+json": {"schema": operations}, **_content(RESOURCE_SCHEMA)}
    return {"requestBody": {"required": True, "content": content, "description":
                            "JSON Patch (RFC 6902), or FHIRPath Patch (a Parameters resource)"}}


def fhir_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Responses: the listed success codes carry a resource; anything else an OperationOutcome."""
    out: dict[int | str, dict[str, Any]] = {
        s: {"description": "FHIR resource", "content": _answer(RESOURCE_SCHEMA)}
        for s in statuses if s not in (204, 304)
    }
    for s in statuses:
        if s in (204, 304):
            out[s] = {"description": "No content"}
    out["default"] = {"description": "OperationOutcome", "content": _answer(OUTCOME_SCHEMA)}
    return out


def with_html_page(responses: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """Responses of $wishes: its 200 may also be the printable page (api/html_format.py)."""
    page = {"schema": {"type": "string",
                       "description": "the summary as a self-contained printable HTML page "
                                      "(Accept: text/html or _format=html)"}}
    ok = responses[200]
    return {**responses, 200: {**ok, "content": {**ok["content"], "text/html": page}}}
