"""Is what the person wanted still valid? Three answers from the $wishes warnings (pure).

The CPR decision (in date, past its review date, conflicting or none), consent to
share (withdrawn or not) and the advance care plan's review (overdue or not), each
a word a nurse can act on at 3 a.m.; the person page puts them above everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from eolc_fhir.web.summary import WishesSummary

__all__ = ["Validity", "validity_of"]


@dataclass(frozen=True)
class Validity:
    topic: str  # "CPR decision"
    verdict: str  # "PAST ITS REVIEW DATE"
    ok: bool  # False: check before acting on it


def validity_of(summary: WishesSummary) -> list[Validity]:
    codes = {w.code for w in summary.warnings}
    cpr = summary.cpr
    if cpr.kind == "conflict":
        cpr_verdict = Validity("CPR decision", "CONFLICTING DECISIONS: check which stands", False)
    elif cpr.kind == "none":
        cpr_verdict = Validity("CPR decision", "none recorded", False)
    elif cpr.overdue or "cpr-review-overdue" in codes:
        cpr_verdict = Validity("CPR decision", "PAST ITS REVIEW DATE: check it still stands",
                               False)
    else:
        cpr_verdict = Validity("CPR decision", "in date", True)
    consent = Validity("Consent to share", "WITHDRAWN", False) \
        if "consent-withdrawn" in codes else Validity("Consent to share", "not withdrawn", True)
    plan = Validity("Advance care plan review", "OVERDUE", False) \
        if "acp-review-overdue" in codes else Validity("Advance care plan review", "not overdue",
                                                        True)
    return [cpr_verdict, consent, plan]
