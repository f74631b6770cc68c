"""Calendar quarters (`2026-Q3`): parsing, their first and last days, the ones before."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

__all__ = ["PeriodError", "Quarter", "parse_quarter"]

_QUARTER = re.compile(r"(\d{4})-Q([1-4])")


class PeriodError(ValueError):
    """A period the report cannot use; the message says what was expected."""


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int  # 1..4

    @property
    def label(self) -> str:
        return f"{self.year}-Q{self.number}"

    @property
    def start(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> date:
        """The last day of the quarter (a FHIR Period's end includes it)."""
        return self.following().start - timedelta(days=1)

    def following(self) -> Quarter:
        if self.number == 4:
            return Quarter(self.year + 1, 1)
        return Quarter(self.year, self.number + 1)

    def previous(self) -> Quarter:
        if self.number == 1:
            return Quarter(self.year - 1, 4)
        return Quarter(self.year, self.number - 1)

    def trailing(self, count: int) -> list[Quarter]:
        """This quarter and the ``count - 1`` before it, oldest first."""
        quarters = [self]
        while len(quarters) < count:
            quarters.append(quarters[-1].previous())
        return quarters[::-1]


def parse_quarter(text: str) -> Quarter:
    """``YYYY-Qn`` (n from 1 to 4, year from 1900) -> Quarter; anything else is a PeriodError."""
    match = _QUARTER.fullmatch(text.strip().upper())
    if match is None:
        raise PeriodError(f"--period '{text}': expected a calendar quarter written YYYY-Qn "
                          "with n from 1 to 4, e.g. 2026-Q3")
    year = int(match.group(1))
    if year < 1900:
        raise PeriodError(f"--period '{text}': the year must be 1900 or later")
    return Quarter(year, int(match.group(2)))
