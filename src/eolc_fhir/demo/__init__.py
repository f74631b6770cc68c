"""A synthetic end-of-life care region: organisations, professionals and people on the register."""
