"""Settings: one object, read from EOLC_* environment variables or passed in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "DEFAULT_PROFILES_DIR", "settings_from", "settings_environment"]

def _default_profiles_dir() -> Path:
    """The checkout's profiles/ (editable install), else ./profiles (set EOLC_PROFILES_DIR)."""
    in_checkout = Path(__file__).resolve().parents[2] / "profiles"
    return in_checkout if in_checkout.is_dir() else Path("profiles").resolve()


DEFAULT_PROFILES_DIR = _default_profiles_dir()
# Audit records kept for 8 years by default (docs/security.md, "Audit retention").
_AUDIT_RETENTION_DAYS = 8 * 365 + 2


class Settings(BaseSettings):
    """Every setting of the server; the README lists them all."""

    model_config = SettingsConfigDict(env_prefix="EOLC_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./eolc.db"
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = Field(default=1, ge=1, description="uvicorn API processes `serve` runs on "
                         "the one port (PostgreSQL only; SQLite keeps one process)")
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
    db_read_pool_size: int = Field(default=4, description="PostgreSQL: connections of the "
                                   "read pool for the lean lookups (by id, NHS number, $wishes)")
    db_busy_timeout_seconds: float = Field(
        default=30.0, description="SQLite: how long a statement waits for another "
        "connection's lock before the request is answered 503 with Retry-After")
    db_connect_timeout_seconds: float = Field(
        default=10.0, description="PostgreSQL: how long opening a connection may take "
        "before the request is answered 503 with Retry-After")
    wishes_cache_mb: int = Field(default=48, description="memory for the $wishes documents "
                                 "asked for most recently (0 = keep none)")
    read_cache_mb: int = Field(default=16, description="PostgreSQL: memory for the resources "
                               "read by id most recently, served while nothing was written "
                               "(0 = keep none)")
    log_level: str = "info"
    shutdown_seconds: int = Field(
        default=20, description="on SIGTERM, how long `serve` lets requests in flight "
        "finish before it closes their connections and exits")
    run_migrations: bool = True
    group_creates: bool = Field(default=True, description="write concurrent creates "
                                "in one transaction each group (each still admitted, "
                                "answered and, on failure, written alone)")
    tune_gc: bool = Field(default=False, description="freeze start-up objects and collect "
                          "garbage less often (pauses hurt p99); `serve` turns it on")
    mmap_threshold_kb: int = Field(default=128, description="blocks this large (KiB) or "
                                   "larger are mapped on their own and given back to the "
                                   "system when freed (glibc; 0 = glibc's own rising "
                                   "threshold)")
    # -- security (issue 6; README "Security") --
    token_lifetime: int = Field(default=300, description="access token lifetime, seconds")
    rate_limit_per_minute: int = Field(default=3000, description="requests per client per "
                                       "minute unless the client has its own (0 = no limit)")
    rate_limit_burst: int = Field(default=300, description="requests a client may make at "
                                  "once, per process (at most its per-minute limit)")
    rate_limit_sync_seconds: float = Field(default=0.5, description="PostgreSQL: how often a "
                                           "process adds its counts to the shared window")
    audit_retention_days: float = Field(
        default=_AUDIT_RETENTION_DAYS, description="days an audit record is kept before the "
        "purge removes it (0 = keep for ever); docs/security.md says where the default comes "
        "from")
    audit_purge_interval_seconds: float = Field(default=3600.0, description="seconds between "
                                                "runs of the audit retention purge (0 = never "
                                                "in the server; `eolc-fhir audit purge`)")
    demo_clients: bool = Field(default=False, description="register one demo client per role "
                               "on start and write their private keys to demo_keys_dir; also "
                               "the console app and one demo user per role (README)")
    demo_keys_dir: Path = Path("./demo-keys")
    # People's sign-in (issue 15; docs/security.md "People's sign-in").
    session_idle_seconds: int = Field(default=900, gt=0, description="the sign-in session "
                                      "ends after this many seconds without use")
    session_max_seconds: int = Field(default=12 * 3600, gt=0, description="the sign-in "
                                     "session ends this long after sign-in, used or not")
    signin_max_failures: int = Field(default=5, ge=1, description="wrong passwords in a row "
                                     "before an account is locked for a while")
    signin_lockout_seconds: int = Field(default=900, gt=0, description="how long an account "
                                        "stays locked after too many wrong passwords")
    auth_code_seconds: int = Field(default=60, gt=0, description="lifetime of an "
                                   "authorization code (it also works only once)")
    oidc_issuer: str | None = Field(default=None, description="sign people in at this "
                                    "external OpenID Connect provider instead of with local "
                                    "accounts (its issuer URL)")
    oidc_client_id: str | None = Field(default=None, description="this server's client id "
                                       "at the external provider")
    oidc_client_secret: str | None = Field(default=None, description="this server's client "
                                           "secret there, if it gave one (else PKCE alone)")
    oidc_scope: str = Field(default="openid fhirUser", description="scopes asked of the "
                            "external provider")
    oidc_role_claim: str = Field(default="role", description="the id_token claim holding the "
                                 "person's role (when no local account has their subject)")
    oidc_ods_claim: str = Field(default="ods", description="the id_token claim holding the "
                                "person's ODS code (same)")
    hsts: bool = Field(default=False, description="send Strict-Transport-Security (behind TLS)")
    api_docs: bool = Field(default=True, description="serve the API docs page /docs (Swagger "
                           "UI, its files served by this server); /openapi.json stays either way")
    # Subscriptions (issue 5): delivery retries, endpoint checks, event retention.
    run_dispatcher: bool = Field(default=True, description="run the subscription dispatcher "
                                 "inside the server process (off: run `eolc-fhir dispatch`)")
    delivery_retry_base_seconds: float = 1.0
    delivery_retry_max_seconds: float = 300.0
    delivery_error_after: int = 5
    delivery_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="webhook hosts a Subscription may name (host or *.domain); empty: any. "
        "Only https is allowed, except http on loopback with insecure_dev.")
    delivery_concurrency: int = 128  # in-flight webhook POSTs (one per subscription at most)
    delivery_ca_file: Path | None = Field(
        default=None, description="PEM file of extra CA certificates trusted for webhook TLS "
        "(receivers behind a private CA), besides the system's")
    delivery_lease_seconds: float = 30.0
    dispatcher_poll_seconds: float = 2.0
    event_retention_days: float = 30.0
    # The websocket channel (docs/api.md "Websocket channel").
    websocket_token_seconds: int = Field(default=300, ge=10, description="how long a "
                                         "$get-ws-binding-token token (and the binding made "
                                         "with it) lasts; never past the caller's access token")
    websocket_probe_seconds: float = Field(default=0.1, gt=0, description="how often a process "
                                           "with bound websockets looks for changes committed "
                                           "by other processes (SQLite; PostgreSQL is woken "
                                           "by NOTIFY)")
    # Bulk export (issue 14; docs/api.md "$export").
    run_exports: bool = Field(default=True, description="run bulk export jobs inside the "
                              "server process (off: this process only accepts and answers them)")
    export_dir: Path = Field(default=Path("./exports"), description="folder of the export "
                             "files, one sub-folder per job")
    export_retention_seconds: float = Field(default=3600.0, description="how long a finished "
                                            "export's files (and its status) are kept")
    export_file_lines: int = Field(default=50_000, ge=1, description="resources per NDJSON "
                                   "file; a type with more is split over several files")
    export_lease_seconds: float = Field(default=60.0, gt=0, description="how long a job stays "
                                        "with a process that stopped renewing it before "
                                        "another claims it and starts it again")
    export_poll_seconds: float = Field(default=5.0, gt=0, description="how often a process "
                                       "looks for export jobs to run and files to remove")
    export_max_pending: int = Field(default=3, ge=1, description="unfinished exports a client "
                                    "may have at once (more: 429)")


def settings_from(args: object) -> Settings:
    """Settings from EOLC_* variables, with command-line options (an argparse Namespace)
    taking precedence."""
    overrides: dict[str, Any] = {}
    for name in ("database_url", "host", "port", "workers"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    if getattr(args, "insecure_dev", False):
        overrides["insecure_dev"] = True
    return Settings(**overrides)


def settings_environment(settings: Settings) -> dict[str, str]:
    """The EOLC_* variables that give another process (a `serve --workers` child) these
    settings."""
    env = {}
    for name, value in settings.model_dump(mode="json").items():
        if value is not None:
            env[f"EOLC_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    return env
