"""`eolc-fhir report`: every measure for a quarter as CSV tables, PNG plots and one HTML page."""
