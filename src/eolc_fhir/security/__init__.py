"""Security layer: SMART Backend Services tokens, scopes and roles, visibility, audit.

For other layers: ``can_read(principal, rtype)`` and ``current_principal()`` (the
calling client of the request being handled; None with --insecure-dev or outside a
request). Everything else is wired by services/security_hooks.py and api/guard.py.
"""

from eolc_fhir.security.policy import can_read
from eolc_fhir.security.principal import current_principal

__all__ = ["can_read", "current_principal"]
