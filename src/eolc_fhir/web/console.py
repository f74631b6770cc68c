"""The console's pages: rendering, their CSP, their static files and the history rows."""

from __future__ import annotations

from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

from eolc_fhir.web.render import CSS, environment

__all__ = ["render_console", "page_csp", "ASSETS", "history_rows"]

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
_ACTIVITY = {"CREATE": "created", "UPDATE": "updated", "DELETE": "deleted"}


def render_console(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def page_csp(base: str) -> str:
    """Scripts, styles and connections from this server only; no inline anything."""
    parts = urlsplit(base)
    ws = ("wss" if parts.scheme == "https" else "ws") + f"://{parts.netloc}"
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
            f"connect-src 'self' {ws}; form-action 'self'; base-uri 'none'; "
            "frame-ancestors 'none'")


def history_rows(bundle: dict[str, Any]) -> list[dict[str, str]]:
    """One row per Provenance: when, what was done to which record, by whom, for whom."""
    rows = []
    for entry in bundle.get("entry") or []:
        prov = entry.get("resource") or {}
        if prov.get("resourceType") != "Provenance":
            continue
        agent = (prov.get("agent") or [{}])[0]
        codes = (prov.get("activity") or {}).get("coding") or [{}]
        target = ((prov.get("target") or [{}])[0].get("reference") or "").split("/_history/")
        rows.append({
            "when": str(prov.get("recorded", "")),
            "what": _ACTIVITY.get(str(codes[0].get("code", "")), "changed"),
            "target": target[0],
            "version": target[1] if len(target) > 1 else "",
            "who": str(((agent.get("who") or {}).get("identifier") or {}).get("value", "")),
            "organisation": str(((agent.get("onBehalfOf") or {}).get("identifier") or {})
                                .get("value", "")),
        })
    return rows
