"""A person's history of changes from a page of Provenance search results (pure, no I/O).

One row per Provenance, newest first as the API sorted them: when, what (the
record in words and created/updated/deleted), which record and version, who (the
app, and the person signed in to it when recorded) and for which organisation.
Targets included with ``_include=Provenance:target`` name the record more exactly
("CPR decision" rather than "Flag"); the ``next`` link's cursor pages further back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from eolc_fhir.web.records import CLIENT_ID_SYSTEM, USER_SYSTEM, record_label

__all__ = ["HistoryRow", "History", "history_of"]

_ACTIVITY = {"CREATE": "created", "UPDATE": "updated", "DELETE": "deleted"}


@dataclass(frozen=True)
class HistoryRow:
    when: str
    what: str  # "CPR decision updated"
    target: str  # Flag/abc
    version: str
    app: str
    person: str  # the person signed in to the app, "" when not recorded
    organisation: str


@dataclass(frozen=True)
class History:
    rows: list[HistoryRow]
    next_cursor: str | None  # the API's cursor for older changes


def history_of(bundle: dict[str, Any]) -> History:
    """The rows of one page of Provenance matches, and the cursor to the next page."""
    resources = [e.get("resource") or {} for e in bundle.get("entry") or []
                 if isinstance(e, dict)]
    included = {f"{r.get('resourceType')}/{r.get('id')}": r for r in resources
                if r.get("resourceType") != "Provenance"}
    rows = [_row(r, included) for r in resources if r.get("resourceType") == "Provenance"]
    return History(rows, _cursor(bundle))


def _row(prov: dict[str, Any], included: dict[str, dict[str, Any]]) -> HistoryRow:
    codes = (prov.get("activity") or {}).get("coding") or [{}]
    target = str(((prov.get("target") or [{}])[0]).get("reference") or "").split("/_history/")
    rtype = target[0].split("/")[0]
    label = record_label(rtype, included.get(target[0]))
    agents = [a for a in prov.get("agent") or [] if isinstance(a, dict)]
    return HistoryRow(
        when=str(prov.get("recorded", "")),
        what=f"{label} {_ACTIVITY.get(str(codes[0].get('code', '')), 'changed')}",
        target=target[0], version=target[1] if len(target) > 1 else "",
        app=_identified(agents, CLIENT_ID_SYSTEM), person=_identified(agents, USER_SYSTEM),
        organisation=next((str(((a.get("onBehalfOf") or {}).get("identifier") or {})
                               .get("value", "")) for a in agents), ""))


def _identified(agents: list[dict[str, Any]], system: str) -> str:
    for agent in agents:
        identifier = (agent.get("who") or {}).get("identifier") or {}
        if identifier.get("system") == system:
            return str(identifier.get("value", ""))
    if system == CLIENT_ID_SYSTEM and agents:  # a Provenance the app sent (X-Provenance)
        who = agents[0].get("who") or {}
        return str(who.get("display") or who.get("reference") or "")
    return ""


def _cursor(bundle: dict[str, Any]) -> str | None:
    link = next((str(li.get("url", "")) for li in bundle.get("link") or []
                 if isinstance(li, dict) and li.get("relation") == "next"), "")
    found = parse_qs(urlsplit(link).query).get("_cursor") if link else None
    return found[0] if found else None
