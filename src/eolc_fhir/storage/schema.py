"""Every table module, imported so that ``metadata`` knows the whole schema.

Feature modules that add tables (subscriptions, security) define them on
``tables.metadata`` in their own module under storage/ and are listed here;
Alembic's env and the migrations read the schema through this module.
"""

from __future__ import annotations

from importlib import import_module

from eolc_fhir.storage.tables import metadata

__all__ = ["metadata"]

for _module in ("subscription_tables", "security_tables", "search_tables"):
    try:
        import_module(f"eolc_fhir.storage.{_module}")
    except ModuleNotFoundError as exc:  # the feature has not been built yet
        if exc.name != f"eolc_fhir.storage.{_module}":
            raise
