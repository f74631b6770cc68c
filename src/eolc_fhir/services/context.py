"""The long-lived parts every service needs, built once by the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eolc_fhir.config import Settings
from eolc_fhir.storage.database import Database

__all__ = ["ServerContext"]


@dataclass
class ServerContext:
    """Passed to every service function; api/ keeps it in ``app.state.ctx``."""

    settings: Settings
    db: Database
    # search parameter registry (eolc_fhir.search), compiled profiles (validation),
    # subscription engine, security policy: set by create_app's lifespan.
    search: Any = None
    validator: Any = None
    subscriptions: Any = None
    security: Any = None
    extras: dict[str, Any] = field(default_factory=dict)
