"""Every table module, imported so that ``metadata`` knows the whole schema.

Feature modules that add tables define them on ``tables.metadata`` in their
own module under storage/; Alembic's env and the migration test read the
schema through this module.
"""

from __future__ import annotations

from eolc_fhir.storage import (
    audit_tables,
    export_tables,
    people_tables,
    search_tables,
    security_tables,
    subscription_tables,
)
from eolc_fhir.storage.tables import metadata

__all__ = ["metadata", "audit_tables", "export_tables", "people_tables", "search_tables",
           "security_tables", "subscription_tables"]
