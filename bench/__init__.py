"""Benchmark harness: load scenarios against eolc-fhir next to a bare baseline in the same run."""
