"""Settings, read from ``PREREVIEW_*`` environment variables (and ``.env``).

Nothing reads the environment anywhere else: build one :class:`Settings` and pass it down.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./var/prereview.db"


class Settings(BaseSettings):
    """Deployment settings. Every field is overridable with ``PREREVIEW_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="PREREVIEW_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: SQLite by default, postgresql+psycopg://... in production.",
    )
    max_window_days: int = Field(
        default=30,
        ge=14,
        le=90,
        description="The longest review window a developer may grant (policy: 14 to 90 days).",
    )
    closing_soon_days: int = Field(
        default=3,
        ge=0,
        le=30,
        description="A window within this many days of its end is 'closing soon'.",
    )
    token_ttl_days: int = Field(
        default=90, ge=1, le=366, description="Default lifetime of a new API token."
    )
    master_key_file: Path = Field(
        default=Path("var/master.keys"), description="Keyring holding the vault's master keys."
    )
    blob_dir: Path = Field(
        default=Path("var/blobs"), description="Where encrypted materials are stored."
    )
    max_material_bytes: int = Field(
        default=256 * 2**30, ge=1, description="Largest material accepted (default 256 GiB)."
    )
    audit_key_file: Path = Field(
        default=Path("var/audit-signing.key"),
        description="Ed25519 key that signs audit checkpoints.",
    )
    audit_origin: str = Field(
        default="prereview.local/audit", description="Origin line of signed audit checkpoints."
    )
    retention_days: int = Field(
        default=180,
        ge=0,
        le=3650,
        description="Days after a window closes before a submission's materials are shredded.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL for the gateway's shared rate-limit counters (several replicas); "
        "unset: counters in memory (one replica).",
    )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings() -> Settings:
    """Settings from the environment; raises a readable error for an out-of-range value."""
    return Settings()
