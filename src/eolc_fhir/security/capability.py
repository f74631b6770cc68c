"""What the CapabilityStatement says about security: SMART, and a read-only AuditEvent."""

from __future__ import annotations

from typing import Any

from eolc_fhir.security.audit import SEARCH_PARAMS

__all__ = ["add_security", "restrict_audit"]

_OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
_SERVICE = "http://terminology.hl7.org/CodeSystem/restful-security-service"


def add_security(statement: dict[str, Any]) -> None:
    base = str((statement.get("implementation") or {}).get("url", "")).rstrip("/")
    for rest in statement.get("rest", []):
        rest["security"] = {
            "extension": [{"url": _OAUTH_URIS, "extension": [
                {"url": "token", "valueUri": f"{base}/auth/token"},
                {"url": "authorize", "valueUri": f"{base}/auth/authorize"}]}],
            "service": [{"coding": [{"system": _SERVICE, "code": "SMART-on-FHIR"}]}],
            "description": "SMART Backend Services: client_credentials with a private_key_jwt "
                           "assertion (RS384 or ES384); SMART v2 system scopes. People sign "
                           "in through SMART App Launch (authorization code with PKCE S256, "
                           "openid fhirUser, user/ scopes narrowed to their role). See "
                           f"{base}/.well-known/smart-configuration",
        }


def restrict_audit(rtype: str, entry: dict[str, Any]) -> None:
    """AuditEvent is written by the server alone and never changed: read and search only,
    with the parameters the audit log answers (services/search/audit_log.py)."""
    if rtype != "AuditEvent":
        return
    entry["interaction"] = [{"code": "read"}, {"code": "search-type"}]
    entry["versioning"] = "no-version"
    entry["readHistory"] = False
    for flag in ("updateCreate", "conditionalCreate", "conditionalUpdate"):
        entry[flag] = False
    entry["conditionalDelete"] = "not-supported"
    entry["searchParam"] = [
        {"name": name, "type": kind, "documentation": text}
        for name, (kind, text) in SEARCH_PARAMS.items()]
    entry.pop("searchInclude", None)
    entry.pop("searchRevInclude", None)
