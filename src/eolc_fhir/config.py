"""Settings: one object, read from EOLC_* environment variables or passed in."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "DEFAULT_PROFILES_DIR"]

DEFAULT_PROFILES_DIR = Path(__file__).resolve().parents[2] / "profiles"


class Settings(BaseSettings):
    """Every setting of the server; the README lists them all."""

    model_config = SettingsConfigDict(env_prefix="EOLC_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./eolc.db"
    host: str = "127.0.0.1"
    port: int = 8080
    insecure_dev: bool = False
    base_url: str | None = Field(
        default=None,
        description="Public base URL used in Location headers and fullUrls; "
        "derived from the request when unset.",
    )
    profiles_dir: Path = DEFAULT_PROFILES_DIR
    max_body_bytes: int = 5 * 1024 * 1024
    max_json_depth: int = 64
    max_array_length: int = 10_000
    default_page_size: int = 50
    max_page_size: int = 1000
    db_pool_size: int = 10
    log_level: str = "info"
    run_migrations: bool = True
