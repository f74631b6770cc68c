"""What a service hands back to api/: a status, stored bytes and metadata."""

from __future__ import annotations

from dataclasses import dataclass, field

from eolc_fhir.fhir.errors import Issue
from eolc_fhir.storage.model import StoredResource

__all__ = ["Result"]


@dataclass
class Result:
    """Outcome of one interaction; api/ derives headers and body from it."""

    status: int
    stored: StoredResource | None = None  # the version the interaction produced or read
    body: bytes | None = None  # a non-resource body (Bundle, OperationOutcome, ...)
    warnings: list[Issue] = field(default_factory=list)
    content_location: bool = False  # send Location / Content-Location headers

    @property
    def etag(self) -> str | None:
        return f'W/"{self.stored.version}"' if self.stored else None
