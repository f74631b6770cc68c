"""Narrative XHTML: txt-1 / txt-2 and the script-safety rules of fhir/xhtml.py."""

from __future__ import annotations

import pytest

from eolc_fhir.fhir.xhtml import check_div

NS = 'xmlns="http://www.w3.org/1999/xhtml"'


def div(inner: str, attributes: str = "") -> str:
    return f"<div {NS}{attributes}>{inner}</div>"


@pytest.mark.parametrize(
    "markup",
    [
        div("Hello"),
        div("<p>A <b>bold</b> <i>plan</i></p><br/>"),
        div('<table border="1"><tbody><tr><td colspan="2">x</td></tr></tbody></table>'),
        div('<a href="http://example.org/x">link</a><a name="anchor">n</a>'),
        div('<img src="#photo" alt="photo"/>'),
        div('<span style="color: red">styled</span>'),
        div("&lt;escaped&gt; &amp; &#160; &quot;"),
        div("<ul><li>one</li></ul><h1>t</h1><pre>p</pre><sub>1</sub><sup>2</sup>"),
        div("text", ' xml:lang="en" lang="en"'),
        div("x<!-- a comment -->"),
    ],
)
def test_safe_narrative_passes(markup: str) -> None:
    assert check_div(markup) == []


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        (div("<script>alert(1)</script>x"), "element <script> is not allowed"),
        (div("<SCRIPT>alert(1)</SCRIPT>x"), "element <SCRIPT> is not allowed"),
        (div('<object data="x"></object>x'), "element <object> is not allowed"),
        (div('<iframe src="http://evil"></iframe>x'), "element <iframe> is not allowed"),
        (div("<form><input/></form>x"), "element <form> is not allowed"),
        (div("<style>p {}</style>x"), "element <style> is not allowed"),
        (div('<p onclick="steal()">x</p>'), "attribute 'onclick' on <p> is not allowed"),
        (div('<img src="x" onerror="steal()"/>'), "attribute 'onerror' on <img> is not allowed"),
        (div('<a href="javascript:alert(1)">x</a>'), "uses a script URL"),
        (div('<a href=" JaVa&#x09;Script:alert(1)">x</a>'), "uses a script URL"),
        (div('<img src="vbscript:x"/>'), "uses a script URL"),
        (div('<span style="width: expression(alert(1))">x</span>'), "script-capable CSS"),
        (div('<span style="background: url(javascript:x)">x</span>'), "script-capable CSS"),
        (
            div('<a xmlns:xl="http://www.w3.org/1999/xlink" xl:href="#a">x</a>'),
            "attribute 'href' on <a> is not allowed",
        ),
        (div('<svg xmlns="http://www.w3.org/2000/svg"/>x'), "not in the XHTML namespace"),
        ("<div>no namespace</div>", "the root must be a <div> in the XHTML namespace"),
        (f"<p {NS}>not a div</p>", "the root must be a <div>"),
        (div("   \n\t "), "non-whitespace content"),
        (div("<p> </p>"), "non-whitespace content"),
        (div("&nbsp;"), "not well-formed"),
        (div("<p>unclosed"), "not well-formed"),
        (div("a") + div("b"), "not well-formed"),
        ("plain text", "not well-formed"),
        ("", "not well-formed"),
    ],
)
def test_unsafe_or_invalid_narrative_is_refused(markup: str, expected: str) -> None:
    problems = check_div(markup)
    assert any(expected in p for p in problems), problems


def test_doctype_and_entities_are_refused_before_expansion() -> None:
    laughs = (
        '<!DOCTYPE div [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        + div("&b;")
    )
    assert check_div(laughs) == ["a DOCTYPE declaration is not allowed"]


def test_external_entity_is_refused() -> None:
    xxe = '<!DOCTYPE div [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + div("&x;")
    assert check_div(xxe) == ["a DOCTYPE declaration is not allowed"]


def test_processing_instruction_is_refused() -> None:
    assert check_div('<?xml-stylesheet href="x.css"?>' + div("x")) == [
        "processing instructions are not allowed"
    ]


def test_every_problem_is_listed() -> None:
    problems = check_div(div('<script>x</script><p onclick="y">z</p>'))
    assert len(problems) == 2
