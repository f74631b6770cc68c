"""Server-rendered HTML: the $wishes summary page and its reusable partial (no FastAPI here)."""
