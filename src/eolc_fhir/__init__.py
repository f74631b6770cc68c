"""eolc-fhir: a FHIR R4 server for shared end-of-life care records."""

__version__ = "0.1.0"
