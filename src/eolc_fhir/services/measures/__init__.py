"""Measure/$evaluate-measure: the region's measures, evaluated in the database."""
