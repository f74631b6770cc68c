"""The summary page's pure parts: narrative runs, the CPR line, HTML negotiation."""

from __future__ import annotations

from typing import Any

import pytest

from eolc_fhir.api.html_format import is_html_path, prefers_html
from eolc_fhir.services.wishes.parts import SECTION_SYSTEM
from eolc_fhir.web.narrative import Run, paragraphs_of
from eolc_fhir.web.render import render_document_page
from eolc_fhir.web.summary import NotADocument, summary_of


def test_narrative_text_and_emphasis_come_back_as_text() -> None:
    div = ('<div xmlns="http://www.w3.org/1999/xhtml"><p><b>NOT for CPR</b>. Note: '
           '&lt;script&gt;x&lt;/script&gt; &amp; more</p><p> </p><p>two</p></div>')
    assert paragraphs_of(div) == [
        (Run("NOT for CPR", True), Run(". Note: <script>x</script> & more", False)),
        (Run("two", False),)]


def _document(*flags: str, overdue: bool = False) -> dict[str, Any]:
    entries = [{"resource": {"resourceType": "Flag", "id": f"f{i}", "code": {"coding": [
        {"system": "http://snomed.info/sct", "code": code}]}}} for i, code in enumerate(flags)]
    section = {"title": "CPR decision", "code": {"coding": [
        {"system": SECTION_SYSTEM, "code": "cpr-decision"}]},
        "entry": [{"reference": f"Flag/f{i}"} for i in range(len(flags))],
        "text": {"div": '<div xmlns="http://www.w3.org/1999/xhtml"><p>as decided</p></div>'}}
    issue = {"resourceType": "DetectedIssue", "id": "w1", "severity": "high",
             "detail": "review was due", "code": {"coding": [{
                 "system": "https://eolc.example.org/fhir/CodeSystem/eolc-wishes-warning",
                 "code": "cpr-review-overdue"}]}}
    warnings = {"title": "Warnings", "code": {"coding": [
        {"system": SECTION_SYSTEM, "code": "warnings"}]},
        "entry": [{"reference": "urn:uuid:w1"}] if overdue else []}
    composition = {"resourceType": "Composition", "id": "c", "title": "t",
                   "subject": {"reference": "Patient/p"}, "section": [warnings, section]}
    patient = {"resourceType": "Patient", "id": "p", "birthDate": "1941",
               "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number",
                               "value": "9912003888"}]}
    return {"resourceType": "Bundle", "type": "document", "entry": [
        {"resource": composition}, {"resource": patient}, *entries, {"resource": issue}]}


@pytest.mark.parametrize(("flags", "overdue", "kind", "headline"), [
    (["450476008"], False, "not-for-cpr", "NOT FOR ATTEMPTED CPR (DNACPR)"),
    (["450475007"], True, "for-cpr", "FOR ATTEMPTED CPR — PAST ITS REVIEW DATE"),
    ([], False, "none", "NO CPR DECISION RECORDED"),
    (["450476008", "450475007"], False, "conflict", "CPR: CONFLICTING DECISIONS RECORDED"),
])
def test_the_cpr_line(flags: list[str], overdue: bool, kind: str, headline: str) -> None:
    summary = summary_of(_document(*flags, overdue=overdue))
    assert summary.cpr.kind == kind and summary.cpr.headline.startswith(headline)
    assert [w.code for w in summary.warnings] == (["cpr-review-overdue"] if overdue else [])
    assert (summary.nhs_number, summary.birth_date, summary.name) == (
        "991 200 3888", "1941", "Name not recorded")
    assert headline in render_document_page(_document(*flags, overdue=overdue))


def test_only_documents_are_drawn() -> None:
    with pytest.raises(NotADocument):
        summary_of({"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient"}}]})


@pytest.mark.parametrize(("accept", "html"), [
    ("text/html", True),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),
    ("application/fhir+json, text/html", False),
    ("text/html;q=0.5, application/fhir+xml", False),
    ("application/fhir+json;q=0.5, text/html", True),
    ("text/html;q=0", False),
    ("*/*", False),
])
def test_html_is_chosen_only_when_ranked_first(accept: str, html: bool) -> None:
    assert prefers_html(accept) is html


def test_only_wishes_speaks_html() -> None:
    assert is_html_path("/Patient/$wishes") and is_html_path("/Patient/p1/$wishes")
    assert not is_html_path("/Patient/p1/$everything")
    assert not is_html_path("/Patient/p1/_history/1/$wishes")
    assert not is_html_path("/CarePlan/$wishes")
