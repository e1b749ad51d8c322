"""One typed settings object for the whole platform, read from ``SILKGATE_*`` variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEMO_API_KEY_PEPPER = "silkgate-demo-pepper-not-for-production"
DEMO_CONSOLE_SECRET = "silkgate-demo-console-secret-not-for-production"


class Settings(BaseSettings):
    """Platform configuration; every field can be set as ``SILKGATE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="SILKGATE_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/silkgate.db",
        description="SQLAlchemy URL; sqlite:///path or postgresql+psycopg://user@host/db",
    )
    demo_mode: bool = Field(default=False, description="Allow built-in demo secrets.")
    data_dir: Path = Field(default=Path("var"), description="Keys and artifacts live here.")
    api_key_pepper: SecretStr = Field(
        default=SecretStr(DEMO_API_KEY_PEPPER),
        description="Secret mixed into API-key hashes (HMAC-SHA256).",
    )
    platform_signing_key: SecretStr | None = Field(
        default=None,
        description="Base64 raw Ed25519 private key of the platform; generated in demo mode.",
    )
    platform_verify_keys: str | None = Field(
        default=None,
        description=(
            "Base64 raw Ed25519 public keys (comma-separated) trusted to have signed the audit "
            "log, in addition to the pinned key file; never read from the database."
        ),
    )
    platform_verify_keys_file: Path | None = Field(
        default=None,
        description="Pinned platform public keys, one per line; default <data_dir>/keys/"
        "platform-verify-keys.txt (written by 'silkgate platform-key generate').",
    )
    audit_checkpoints: bool = Field(
        default=True, description="Sign audit checkpoints from a thread of the API process."
    )
    audit_checkpoint_interval: float = Field(
        default=300.0, gt=0, le=86_400, description="Seconds between audit checkpoints."
    )
    audit_checkpoint_file: Path | None = Field(
        default=None,
        description="Append-only JSON Lines file of signed checkpoints; default "
        "<data_dir>/audit-checkpoints.jsonl.",
    )
    auto_accept: bool = Field(
        default=True, description="Accept declarations that pass validation at once."
    )
    share_driver_data_across_border: bool = Field(
        default=False, description="Send driver personal data to the other side's customs."
    )
    disclosure_sync_commit: bool = Field(
        default=False,
        description="PostgreSQL: a read that only logged disclosures waits for its commit to "
        "reach the disk. Off: it commits asynchronously (a database crash can lose the "
        "disclosure rows of the last fraction of a second; a crash of the platform loses none).",
    )
    auth_cache_seconds: float = Field(
        default=5.0, ge=0, description="How long a process trusts a verified API key."
    )
    group_commit: bool = Field(
        default=True, description="Store concurrent API lodgings in shared transactions."
    )
    max_body_bytes: int = Field(
        default=5_000_000, gt=0, description="Largest request body (except batches)."
    )
    max_batch_lines: int = Field(default=5_000, gt=0, description="Lines per JSON Lines batch.")
    max_batch_bytes: int = Field(
        default=32_000_000,
        gt=0,
        description="Largest JSON Lines batch body: 5,000 demo declarations take about 7.7 MB; "
        "this leaves room for ~6 kB a line.",
    )
    page_size_max: int = Field(default=500, gt=0)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, gt=0, lt=65536)
    serve_reuse_port: bool = Field(
        default=True,
        description="With several workers on Linux, each worker accepts on its own "
        "SO_REUSEPORT socket, so the kernel spreads connections evenly across them.",
    )
    db_pool_size: int = Field(default=10, gt=0)
    db_lock_timeout: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="Seconds a request waits for a database lock held elsewhere before it fails "
        "with 503 and Retry-After (SQLite busy timeout, PostgreSQL lock_timeout).",
    )
    shutdown_grace: float = Field(
        default=10.0,
        ge=0,
        le=600,
        description="Seconds `serve` lets requests in flight finish after SIGTERM before it "
        "cancels them and exits.",
    )
    log_level: str = "INFO"
    risk_worker: bool = Field(
        default=True, description="Run the background risk assessor in the API process."
    )
    risk_worker_interval: float = Field(
        default=0.2, gt=0, le=10, description="Seconds between polls for declarations to assess."
    )
    risk_worker_batch: int = Field(
        default=500, gt=0, le=10_000, description="Most declarations assessed per transaction."
    )
    risk_worker_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="Niceness added to the assessor thread so lodging keeps the CPU under load.",
    )
    gate_max_clock_skew: float = Field(
        default=300.0,
        ge=0,
        le=86_400,
        description="Seconds a gate event's eventTime may lie ahead of the server clock.",
    )
    gate_verify_threads: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Threads verifying the signatures of a gate-event batch (Ed25519 runs "
        "outside the GIL); 0: one per CPU core, 1: none besides the request's own.",
    )
    kpi_release_target_hours: float = Field(
        default=2.0, gt=0, description="TRS target: share of trucks released within this time."
    )
    kpi_booking_match_hours: float = Field(
        default=24.0,
        gt=0,
        le=24 * 14,
        description="TRS: a truck's booking whose slot starts within this many hours of its "
        "arrival is the passage's booking (AEO and priority splits).",
    )
    risk_artifacts: Path | None = Field(
        default=None, description="Risk model artifacts; default <data_dir>/risk-models."
    )

    analytics_lake_dir: Path | None = Field(
        default=None,
        description="Parquet lake of `silkgate analytics export`; default <data_dir>/lake.",
    )
    analytics_settle_seconds: float = Field(
        default=30.0,
        ge=0,
        le=86_400,
        description="An export leaves rows changed within this many seconds of its start for the "
        "next run (a write that took its timestamp earlier may not have committed yet); 0: none.",
    )
    analytics_export_readers: int = Field(
        default=2,
        ge=1,
        le=16,
        description="Datasets an export reads at once, each on its own connection sharing one "
        "snapshot (PostgreSQL: an exported snapshot; SQLite: reader processes whose reads "
        "begin while the write lock is held for a moment).",
    )
    analytics_compact_files: int = Field(
        default=24,
        ge=0,
        le=100_000,
        description="After an export, a partition holding this many files or more is rewritten "
        "as one (each export run adds a file per partition it touches, and readers pay per "
        "file); 0: never during exports (`silkgate analytics compact` still does it).",
    )
    analytics_compute_country: str = Field(
        default="CN",
        pattern=r"^[A-Z]{2}$",
        description="ISO 3166 alpha-2 of the country where this installation computes analytics "
        "jobs (the Karamay sub-center: CN); another country's partitions are read only under an "
        "agreement allowing processing there. `--compute-country` overrides it per run.",
    )
    analytics_min_cell_size: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="A result row holding data not the reader's own (another country's; any "
        "country's for analysts and administrators) is left out when it describes fewer than "
        "this many declarations, traders or trucks.",
    )
    analytics_spark_master: str = Field(
        default="local[*]",
        description="Spark master for `--engine spark`: local[N] in process, a cluster URL, or "
        "empty under spark-submit (which names the master).",
    )
    analytics_spark_shuffle_partitions: int = Field(default=8, ge=1, le=10_000)
    analytics_spark_driver_memory: str = Field(
        default="4g",
        pattern=r"^[1-9][0-9]*[kmgt]$",
        description="Heap of Spark's driver JVM (in local mode it runs every task), e.g. 4g; "
        "Spark's own default of 1g runs out on a year of demo traffic. Ignored under "
        "spark-submit, which sets it.",
    )

    queue_utc_offset_hours: int = Field(
        default=8, ge=-12, le=14, description="Crossing days and slot hours are in this offset."
    )
    queue_booking_horizon_days: int = Field(
        default=14, gt=0, le=90, description="Furthest day ahead a slot can be booked."
    )
    queue_grace_minutes: int = Field(
        default=60, ge=0, le=24 * 60, description="Lateness allowed after the slot hour ends."
    )
    queue_max_reschedules: int = Field(default=2, ge=0, le=20)
    queue_reschedule_cutoff_hours: float = Field(
        default=2.0, ge=0, description="No rescheduling this close to the booked slot."
    )
    queue_deposit_amount: int = Field(default=20, ge=0, description="Deposit per booking.")
    queue_deposit_unit: str = Field(default="MRP", description="Unit of the deposit (KZ MRP).")
    queue_forfeit_no_shows: int = Field(
        default=2, gt=0, description="No-shows within the window that forfeit the deposit."
    )
    queue_forfeit_window_days: int = Field(default=90, gt=0)
    queue_rate_org_per_second: float = Field(default=50.0, gt=0)
    queue_rate_org_burst: int = Field(default=200, gt=0)
    queue_rate_vehicle_per_minute: float = Field(default=6.0, gt=0)
    queue_rate_vehicle_burst: int = Field(default=10, gt=0)
    queue_full_hint_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="How long a process refuses a slot it saw full without asking the database.",
    )
    queue_rate_public_per_second: float = Field(default=20.0, gt=0)
    queue_group_commit: bool = Field(
        default=True,
        description="Store concurrent API bookings in shared transactions (one audit append "
        "and one commit per group); off when SILKGATE_GROUP_COMMIT is off too.",
    )
    queue_callforward_ratios: dict[str, int] = Field(
        default={"priority_aeo_tir": 1, "priority": 1, "aeo": 1, "regular": 5},
        description="Call-forward interleave: trucks called per class in each round (eCherha).",
    )
    queue_stage_capacity: int = Field(
        default=10, ge=0, le=1000, description="Trucks the border stage holds when none is set."
    )
    queue_callforward_rate_minutes: float = Field(
        default=60.0, gt=0, description="Window of recent calls the estimated call time uses."
    )
    exchange_worker: bool = Field(
        default=True, description="Run the webhook delivery worker in the API process."
    )
    exchange_poll_seconds: float = Field(
        default=0.1, gt=0, le=10, description="Seconds between polls for due deliveries."
    )
    exchange_max_attempts: int = Field(
        default=7, ge=1, le=30, description="Delivery tries before a message is dead-lettered."
    )
    exchange_retry_base_seconds: float = Field(
        default=1.0, gt=0, le=3600, description="First retry delay; doubles at each try."
    )
    exchange_timeout_seconds: float = Field(
        default=5.0, gt=0, le=60, description="HTTP timeout of one webhook delivery."
    )
    exchange_batch: int = Field(
        default=200, gt=0, le=1000, description="Deliveries claimed per pass."
    )
    exchange_concurrency: int = Field(
        default=16, ge=1, le=64, description="Webhooks a delivery worker sends at once."
    )
    exchange_webhook_allow: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="Hosts or networks (comma-separated, e.g. 10.1.0.0/16,hooks.internal) that "
        "webhooks may reach although not public; every other non-public address is refused.",
    )
    exchange_retention_days: float = Field(
        default=30.0,
        gt=0,
        le=3650,
        description="Outbox messages older than this, with no delivery pending, are pruned.",
    )

    require_signed_writes: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="Organizations (comma-separated member ids, or * for all) whose writes must "
        "carry a detached JWS (X-JWS-Signature); others may sign or not.",
    )
    signed_write_max_age: float = Field(
        default=300.0,
        gt=0,
        le=86_400,
        description="Seconds a request signature's iat may lie before or after the server clock.",
    )
    write_receipts: bool = Field(
        default=True,
        description="Answer every successful write with a signed receipt (Silkgate-Receipt).",
    )

    console_secret: SecretStr | None = Field(
        default=None,
        description="Secret the web console derives its keys from (TOTP secrets are encrypted "
        "with one, CSRF tokens of signed-out forms are bound with another); unset: derived "
        "from SILKGATE_API_KEY_PEPPER under a separate label.",
    )
    console_cookie_secure: bool = Field(
        default=True,
        description="Console cookies carry Secure (sent over HTTPS only); turn off only for "
        "http://localhost development and tests.",
    )
    console_cookie_samesite: Literal["lax", "strict"] = Field(
        default="lax", description="SameSite attribute of the console's session cookie."
    )
    console_session_idle_minutes: float = Field(
        default=30.0, gt=0, le=24 * 60, description="A console session unused this long ends."
    )
    console_session_absolute_hours: float = Field(
        default=12.0,
        gt=0,
        le=24 * 30,
        description="A console session ends this long after sign-in, used or not.",
    )
    console_max_failed_signins: int = Field(
        default=5, ge=1, le=100, description="Failed sign-ins in a row that lock an account."
    )
    console_lockout_minutes: float = Field(
        default=15.0, gt=0, le=7 * 24 * 60, description="How long a locked account stays locked."
    )
    console_invite_hours: float = Field(
        default=72.0, gt=0, le=24 * 30, description="How long a console invitation is valid."
    )
    console_live_seconds: float = Field(
        default=30.0,
        ge=1,
        le=3600,
        description="Live pages (the queue boards) refresh their figures in place this often "
        "while open and visible; the refreshes do not keep a session from ending when idle.",
    )

    @field_validator("exchange_webhook_allow", "require_signed_writes", mode="before")
    @classmethod
    def _comma_separated(cls, v: object) -> object:
        if isinstance(v, str):
            return [e.strip() for e in v.split(",") if e.strip()]
        return v

    @field_validator("queue_callforward_ratios")
    @classmethod
    def _known_classes(cls, v: dict[str, int]) -> dict[str, int]:
        known = ("priority_aeo_tir", "priority", "aeo", "regular")
        unknown = sorted(set(v) - set(known))
        if unknown:
            raise ValueError(f"unknown call-forward class {', '.join(unknown)}; use {known}")
        if any(n < 0 for n in v.values()) or sum(v.values()) == 0:
            raise ValueError("ratios are whole numbers ≥ 0, at least one above 0")
        return v

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if not self.demo_mode and self.api_key_pepper.get_secret_value() == DEMO_API_KEY_PEPPER:
            raise ValueError(
                "SILKGATE_API_KEY_PEPPER is the built-in demo value; set a secret of your own "
                "or run with SILKGATE_DEMO_MODE=true"
            )
        secret = self.console_secret
        if (
            not self.demo_mode
            and secret is not None
            and (
                secret.get_secret_value() in (DEMO_CONSOLE_SECRET, DEMO_API_KEY_PEPPER)
                or len(secret.get_secret_value()) < 16
            )
        ):
            raise ValueError(
                "SILKGATE_CONSOLE_SECRET is a built-in demo value or shorter than 16 characters; "
                "set a secret of your own or run with SILKGATE_DEMO_MODE=true"
            )
        return self

    def console_key(self, label: str) -> bytes:
        """A 32-byte key for one console purpose (HKDF-SHA256 over the console secret, or over
        the API-key pepper when none is set; the label keeps the purposes apart)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        source = self.console_secret or self.api_key_pepper
        return HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=b"silkgate-console",
            info=label.encode(),
        ).derive(source.get_secret_value().encode())

    def requires_signed_writes(self, member_id: str) -> bool:
        """Whether this organization's writes must be signed."""
        required = self.require_signed_writes
        return "*" in required or member_id in required

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def verify_keys_path(self) -> Path:
        return self.platform_verify_keys_file or self.keys_dir / "platform-verify-keys.txt"

    @property
    def checkpoint_path(self) -> Path:
        return self.audit_checkpoint_file or self.data_dir / "audit-checkpoints.jsonl"

    @property
    def lake_dir(self) -> Path:
        return self.analytics_lake_dir or self.data_dir / "lake"

    @property
    def risk_artifact_dir(self) -> Path:
        return self.risk_artifacts or self.data_dir / "risk-models"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build their own)."""
    return Settings()
