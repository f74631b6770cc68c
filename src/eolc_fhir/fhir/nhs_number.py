"""NHS number modulus-11 check digit: compute it (synthetic data) and check it (lookups)."""

from __future__ import annotations

__all__ = ["NHS_NUMBER_SYSTEM", "check_digit", "is_valid_nhs_number"]

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)


def check_digit(first_nine: str) -> int | None:
    """The check digit for nine digits; None when no digit fits (remainder gives 10)."""
    if len(first_nine) != 9 or not first_nine.isdigit() or not first_nine.isascii():
        raise ValueError("an NHS number starts with nine digits")
    total = sum(int(d) * w for d, w in zip(first_nine, _WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def is_valid_nhs_number(value: str) -> bool:
    """Ten ASCII digits whose tenth is the modulus-11 check digit of the first nine."""
    if len(value) != 10 or not value.isdigit() or not value.isascii():
        return False
    return check_digit(value[:9]) == int(value[9])
