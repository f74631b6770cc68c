"""The console's pages: rendering, their CSP and their static files."""

from __future__ import annotations

from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

from eolc_fhir.web.render import CSS, environment

__all__ = ["render_console", "page_csp", "ASSETS"]

_STATIC = files("eolc_fhir.web") / "static"
_JS, _CSS = "text/javascript; charset=utf-8", "text/css; charset=utf-8"
# name under /console/static/ -> (text, media type); nothing else is served there.
ASSETS: dict[str, tuple[str, str]] = {
    "summary.css": (CSS, _CSS),
    "console.css": ((_STATIC / "console.css").read_text(encoding="utf-8"), _CSS),
    "find.js": ((_STATIC / "find.js").read_text(encoding="utf-8"), _JS),
    "live.js": ((_STATIC / "live.js").read_text(encoding="utf-8"), _JS),
    "measures.css": ((_STATIC / "measures.css").read_text(encoding="utf-8"), _CSS),
    "deliveries.css": ((_STATIC / "deliveries.css").read_text(encoding="utf-8"), _CSS),
    # its own icon, so the browser does not ask for /favicon.ico (a 404)
    "icon.svg": ((_STATIC / "icon.svg").read_text(encoding="utf-8"), "image/svg+xml"),
}


def render_console(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def page_csp(base: str) -> str:
    """Scripts, styles and connections from this server only; no inline anything."""
    parts = urlsplit(base)
    ws = ("wss" if parts.scheme == "https" else "ws") + f"://{parts.netloc}"
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
            f"connect-src 'self' {ws}; form-action 'self'; base-uri 'none'; "
            "frame-ancestors 'none'")

