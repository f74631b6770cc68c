"""What the CapabilityStatement says about security: SMART, and a read-only AuditEvent."""

from __future__ import annotations

from typing import Any

__all__ = ["add_security", "restrict_audit"]

_OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
_SERVICE = "http://terminology.hl7.org/CodeSystem/restful-security-service"
_WRITES = {"create", "update", "delete", "patch"}


def add_security(statement: dict[str, Any]) -> None:
    base = str((statement.get("implementation") or {}).get("url", "")).rstrip("/")
    for rest in statement.get("rest", []):
        rest["security"] = {
            "extension": [{"url": _OAUTH_URIS, "extension": [
                {"url": "token", "valueUri": f"{base}/auth/token"}]}],
            "service": [{"coding": [{"system": _SERVICE, "code": "SMART-on-FHIR"}]}],
            "description": "SMART Backend Services: client_credentials with a private_key_jwt "
                           "assertion (RS384 or ES384); SMART v2 system scopes. See "
                           f"{base}/.well-known/smart-configuration",
        }


def restrict_audit(rtype: str, entry: dict[str, Any]) -> None:
    """AuditEvent is written by the server alone and never changed."""
    if rtype != "AuditEvent":
        return
    entry["interaction"] = [i for i in entry.get("interaction", [])
                            if i.get("code") not in _WRITES]
    for flag in ("updateCreate", "conditionalCreate", "conditionalUpdate"):
        entry[flag] = False
    entry["conditionalDelete"] = "not-supported"
