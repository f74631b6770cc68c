"""Date ranges by precision, number precision and text folding."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from eolc_fhir.search.values import DateFormatError, date_range, normalise, number_range


def _us(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp()) * 1_000_000  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("2024", _us(2024, 1, 1), _us(2025, 1, 1) - 1),
        ("2024-02", _us(2024, 2, 1), _us(2024, 3, 1) - 1),
        ("2024-12", _us(2024, 12, 1), _us(2025, 1, 1) - 1),
        ("2024-02-29", _us(2024, 2, 29), _us(2024, 3, 1) - 1),
        ("2024-02-29T10:15", _us(2024, 2, 29, 10, 15), _us(2024, 2, 29, 10, 16) - 1),
        ("2024-02-29T10:15:30Z", _us(2024, 2, 29, 10, 15, 30), _us(2024, 2, 29, 10, 15, 31) - 1),
        ("2024-02-29T12:15:30+02:00", _us(2024, 2, 29, 10, 15, 30),
         _us(2024, 2, 29, 10, 15, 31) - 1),
        ("2024-02-29T10:15:30.5Z", _us(2024, 2, 29, 10, 15, 30) + 500_000,
         _us(2024, 2, 29, 10, 15, 30) + 599_999),
    ],
)
def test_date_range_follows_precision(text: str, low: int, high: int) -> None:
    assert date_range(text) == (low, high)


@pytest.mark.parametrize("text", ["24", "2024-13", "2024-02-30", "2024-01-01T25:00", "soon"])
def test_bad_dates_are_refused(text: str) -> None:
    with pytest.raises(DateFormatError):
        date_range(text)


def test_number_precision() -> None:
    assert number_range("100") == (100.0, 99.5, 100.5)
    assert number_range("100.00") == (100.0, 99.995, 100.005)
    assert number_range("1e2") == (100.0, 50.0, 150.0)
    with pytest.raises(ValueError):
        number_range("abc")


def test_normalise_folds_case_and_accents() -> None:
    assert normalise("Hüghes-BRÖWN Élodie") == "hughes-brown elodie"
