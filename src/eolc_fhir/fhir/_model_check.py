"""Base validation with the R4B model, its pydantic errors turned into FHIR issues.

The strict walk (``_walk``) already covers what the JSON format forbids; the
model adds what only it knows. Its errors are mapped to an IssueType code and
a FHIRPath expression (loc ``('name', 0, '_given', 1)`` becomes
``Patient.name[0].given[1]``) and dropped when the walk already reported a
problem at, above or below the same element, so nothing is said twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pydantic

from eolc_fhir.fhir.errors import Issue
from eolc_fhir.fhir.models import model_class

__all__ = ["model_issues", "issue_code", "fhirpath"]

# pydantic error type -> FHIR IssueType (http://hl7.org/fhir/R4/valueset-issue-type.html)
_CODES = {
    "missing": "required",
    "model_field_validation.missing": "required",
    "extra_forbidden": "structure",
    "list_type": "structure",
    "dict_type": "structure",
    "model_type": "structure",
    "model_attributes_type": "structure",
    "json_invalid": "structure",
    "value_error": "value",
    "assertion_error": "value",
}


def issue_code(error_type: str) -> str:
    code = _CODES.get(error_type)
    if code is not None:
        return code
    if error_type.endswith("_type"):
        return "structure"
    if error_type.endswith(("_parsing", "_pattern_mismatch", "_too_long", "_too_short")):
        return "value"
    if error_type.startswith(("greater_than", "less_than", "string_", "date", "time", "decimal")):
        return "value"
    return "invalid"


def fhirpath(root: str, loc: Sequence[int | str]) -> str:
    """pydantic loc -> FHIRPath: list indexes in brackets, ``_x`` siblings as ``x``."""
    parts = [root]
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append("." + (part[1:] if part.startswith("_") else part))
    return "".join(parts)


def _message(error: Any) -> str:
    text = str(error["msg"])
    return text.removeprefix("Value error, ")


def _overlaps(a: str, b: str) -> bool:
    """True when one FHIRPath is the other or lies inside it."""
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    return long == short or long.startswith((short + ".", short + "["))


def model_issues(
    resource: dict[str, Any], resource_type: str, known: Sequence[Issue]
) -> list[Issue]:
    """Issues from ``model_validate`` that ``known`` (the walk's issues) does not already cover."""
    try:
        model_class(resource_type).model_validate(resource)
    except pydantic.ValidationError as error:
        found = [
            _issue(resource_type, e["loc"], e["type"], _message(e))
            for e in error.errors(include_url=False, include_context=False, include_input=False)
            # Unknown elements are the walk's call: the R4B Extension model lacks
            # the "_valueString"-style siblings that R4 JSON allows.
            if e["type"] != "extra_forbidden"
        ]
    except Exception as error:  # noqa: BLE001 - the model can crash on input the walk rejected
        if known:
            return []
        return [
            Issue(
                "error",
                "invalid",
                f"{resource_type}: the resource could not be validated ({error!r})",
                (resource_type,),
            )
        ]
    else:
        return []
    paths = [path for issue in known for path in issue.expression]
    return [i for i in found if not any(_overlaps(i.expression[0], p) for p in paths)]


def _issue(root: str, loc: Sequence[int | str], error_type: str, message: str) -> Issue:
    path = fhirpath(root, loc)
    return Issue("error", issue_code(error_type), f"{path}: {message}", (path,))
