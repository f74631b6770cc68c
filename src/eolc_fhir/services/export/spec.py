"""What an export job asks for and on whose behalf, as stored (JSON) in its row."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from eolc_fhir.security.principal import Principal
from eolc_fhir.security.scopes import parse_scopes

__all__ = ["ExportSpec", "SYSTEM", "PATIENT", "GROUP", "BULK_CANONICAL", "DEFINITIONS"]

SYSTEM, PATIENT, GROUP = "system", "patient", "group"
BULK_CANONICAL = "http://hl7.org/fhir/uv/bulkdata"
DEFINITIONS = {SYSTEM: f"{BULK_CANONICAL}/OperationDefinition/export",
               PATIENT: f"{BULK_CANONICAL}/OperationDefinition/patient-export",
               GROUP: f"{BULK_CANONICAL}/OperationDefinition/group-export"}


@dataclass
class ExportSpec:
    """``types`` None: every type the caller may read (those it may not: listed as errors).
    ``patients``: a Group's members (group level). ``type_filters``: (type, query string).
    The caller's client, organisation, role and scopes are kept so that the job applies
    the same rules when it runs, after the request has gone."""

    level: str
    base_url: str
    types: list[str] | None = None
    since_us: int | None = None
    type_filters: list[tuple[str, str]] = field(default_factory=list)
    group_id: str | None = None
    patients: list[str] | None = None
    warnings: list[str] = field(default_factory=list)
    client_id: str | None = None  # None: --insecure-dev, nobody authenticated
    ods: str = ""
    role: str = ""
    scopes: str = ""

    def dumps(self) -> str:
        return orjson.dumps(asdict(self)).decode()

    @classmethod
    def loads(cls, text: str) -> ExportSpec:
        data: dict[str, Any] = orjson.loads(text)
        data["type_filters"] = [tuple(pair) for pair in data.get("type_filters") or []]
        return cls(**data)

    def principal(self) -> Principal | None:
        if self.client_id is None:
            return None
        return Principal(self.client_id, self.ods, self.role,
                         parse_scopes(self.scopes, context=None), 0.0)
