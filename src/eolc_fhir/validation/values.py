"""Value rules: fixed[x] (exact, deep), minValue[x] / maxValue[x] (numbers, dates, Quantity)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from eolc_fhir.validation.ucum import canonical

__all__ = ["fixed_equals", "bound_violation"]

_UCUM = "http://unitsofmeasure.org"


def fixed_equals(value: Any, fixed: Any) -> bool:
    """fixed[x]: the same value exactly, no element more or less, lists in the same order;
    true is not 1 (Python's == would say it is)."""
    if isinstance(fixed, dict):
        return (
            isinstance(value, dict)
            and value.keys() == fixed.keys()
            and all(fixed_equals(value[k], f) for k, f in fixed.items())
        )
    if isinstance(fixed, list):
        return (
            isinstance(value, list)
            and len(value) == len(fixed)
            and all(fixed_equals(v, f) for v, f in zip(value, fixed, strict=True))
        )
    if isinstance(fixed, bool) or isinstance(value, bool):
        return type(value) is type(fixed) and value == fixed
    return bool(value == fixed)


def bound_violation(value: Any, bound: tuple[str, Any], is_min: bool) -> str | None:
    """Why ``value`` is outside the bound (None when it is inside or cannot be ordered):
    "below" / "above", or "not compared: ..." when the units cannot be compared."""
    kind, limit = bound
    if kind in ("Quantity", "Duration", "Age", "Distance", "Count"):
        order = _compare_quantities(value, limit)
    elif kind in ("Date", "DateTime", "Instant"):
        order = _compare_dates(value, limit)
    elif kind in ("Time",):
        order = _sign(value, limit) if isinstance(value, str) and isinstance(limit, str) else None
    else:
        order = _compare_numbers(value, limit)
    if isinstance(order, str):
        return order
    if order is None:
        return None
    if is_min and order < 0:
        return "below"
    if not is_min and order > 0:
        return "above"
    return None


def _sign(a: Any, b: Any) -> int:
    return int(a > b) - int(a < b)


def _decimal(number: Any) -> Decimal | None:
    if isinstance(number, bool) or not isinstance(number, int | float | str):
        return None
    try:
        return Decimal(str(number))
    except InvalidOperation:
        return None


def _compare_numbers(value: Any, limit: Any) -> int | None:
    a, b = _decimal(value), _decimal(limit)
    return None if a is None or b is None else _sign(a, b)


def _compare_quantities(value: Any, limit: Any) -> int | str | None:
    if not isinstance(value, dict) or not isinstance(limit, dict):
        return None
    a, b = _decimal(value.get("value")), _decimal(limit.get("value"))
    if a is None or b is None:
        return None
    unit_a, unit_b = _unit(value), _unit(limit)
    if unit_a == unit_b:
        return _sign(a, b)
    if value.get("system", _UCUM) == _UCUM and limit.get("system", _UCUM) == _UCUM:
        ca, cb = canonical(a, unit_a or ""), canonical(b, unit_b or "")
        if ca is not None and cb is not None and ca[1] == cb[1]:
            return _sign(ca[0], cb[0])
    return f"not compared: unit {unit_a!r} cannot be compared with {unit_b!r}"


def _unit(quantity: dict[str, Any]) -> str | None:
    code = quantity.get("code", quantity.get("unit"))
    return code if isinstance(code, str) else None


def _compare_dates(value: Any, limit: Any) -> int | None:
    """Compared to the precision both have; equal there with different precisions is
    uncertain (FHIR ordering of partial dates), so not a violation."""
    if not isinstance(value, str) or not isinstance(limit, str):
        return None
    if len(value) <= 10 or len(limit) <= 10:
        size = min(len(value), len(limit), 10)
        return _sign(value[:size], limit[:size])
    a, b = _instant(value), _instant(limit)
    return None if a is None or b is None else _sign(a, b)


def _instant(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
