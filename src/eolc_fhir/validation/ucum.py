"""A small UCUM table: common units of one dimension made comparable (no full UCUM parser).

No maintained UCUM library for Python is on the package index, so this covers the units
met in clinical quantities and durations: metric prefixes on g, m, L, mol, s, and the
time units min, h, d, wk, mo, a; plus a few customary units. A unit outside the table is
compared only with the very same unit (the caller says "not compared" otherwise).
"""

from __future__ import annotations

from decimal import Decimal

__all__ = ["canonical"]

_PREFIXES: dict[str, Decimal] = {
    "": Decimal(1),
    "k": Decimal(1000),
    "d": Decimal("0.1"),
    "c": Decimal("0.01"),
    "m": Decimal("1e-3"),
    "u": Decimal("1e-6"),
    "n": Decimal("1e-9"),
    "p": Decimal("1e-12"),
}
_METRIC = {"g": "g", "m": "m", "L": "L", "l": "L", "mol": "mol", "s": "s"}
_DAY = 86400
_YEAR = Decimal("365.25") * _DAY  # UCUM's "a" is the Julian year
_OTHER: dict[str, tuple[Decimal, str]] = {
    "min": (Decimal(60), "s"),
    "h": (Decimal(3600), "s"),
    "d": (Decimal(_DAY), "s"),
    "wk": (Decimal(7 * _DAY), "s"),
    "a": (_YEAR, "s"),
    "mo": (_YEAR / 12, "s"),
    "[lb_av]": (Decimal("453.59237"), "g"),
    "[oz_av]": (Decimal("28.349523125"), "g"),
    "[in_i]": (Decimal("0.0254"), "m"),
    "[ft_i]": (Decimal("0.3048"), "m"),
    "mm[Hg]": (Decimal("133.322"), "Pa"),
    "Cel": (Decimal(1), "Cel"),
    "%": (Decimal("0.01"), "1"),
    "1": (Decimal(1), "1"),
}


def canonical(value: Decimal, unit: str) -> tuple[Decimal, str] | None:
    """(value in the base unit, base unit), or None for a unit outside the table."""
    if unit in _OTHER:
        factor, base = _OTHER[unit]
        return value * factor, base
    for base_unit, base in _METRIC.items():
        prefix = unit[: len(unit) - len(base_unit)] if unit.endswith(base_unit) else None
        if prefix is not None and prefix in _PREFIXES:
            return value * _PREFIXES[prefix], base
    return None
