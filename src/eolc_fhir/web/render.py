"""Jinja2 rendering of the summary page and of its error page, with their CSP header.

Autoescape is on for every template: a string from a record is always text.
The one stylesheet (``templates/summary.css``) goes inline in a ``<style>``
element and is allowed by its hash in the Content-Security-Policy, so the
page needs nothing else from anywhere and runs no script at all.

For other pages (the console, later): ``environment()`` is the shared
environment; ``{% include "_summary.html" %}`` with ``summary`` (a
``WishesSummary``) in the context draws the summary's body; ``CSS`` and
``STYLE_SOURCE`` are the stylesheet and the CSP source that allows it inline.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from importlib.resources import files
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from eolc_fhir.web.summary import WishesSummary, summary_of

__all__ = ["environment", "render_summary_page", "render_document_page", "render_error_page",
           "CSS", "STYLE_SOURCE", "PAGE_CSP"]

CSS = (files("eolc_fhir.web") / "templates" / "summary.css").read_text(encoding="utf-8")
STYLE_SOURCE = "'sha256-" + base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode() + "'"
# Nothing but the inline stylesheet: no script, image, font, frame, form or connection.
PAGE_CSP = (f"default-src 'none'; style-src {STYLE_SOURCE}; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'")


@cache
def environment() -> Environment:
    """The shared Jinja2 environment (autoescape on, undefined names an error)."""
    return Environment(loader=PackageLoader("eolc_fhir.web", "templates"),
                       autoescape=select_autoescape(default=True, default_for_string=True),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _page(template: str, **context: Any) -> str:
    return environment().get_template(template).render(css=Markup(CSS), **context)


def render_summary_page(summary: WishesSummary) -> str:
    """The whole printable page of one person's summary."""
    return _page("wishes_page.html", summary=summary)


def render_document_page(bundle: dict[str, Any]) -> str:
    """The page of a $wishes document Bundle (raises NotADocument for anything else)."""
    return render_summary_page(summary_of(bundle))


def render_error_page(status: int, messages: list[str]) -> str:
    """A small page saying why there is no summary (the OperationOutcome's diagnostics)."""
    return _page("error_page.html", status=status, messages=messages)
