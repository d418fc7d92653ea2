"""Settings, read from ``PREREVIEW_*`` environment variables (and ``.env``).

Nothing reads the environment anywhere else: build one :class:`Settings` and pass it down.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./var/prereview.db"


class WitnessEndpoint(BaseModel):
    """A witness the platform sends its checkpoints to: where it is and its verifier key."""

    url: str = Field(description="The submission prefix: <url>/add-checkpoint is posted to.")
    key: str = Field(description="The witness's verifier key, <name>+<key ID>+<key> (type 0x04).")


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
        default=90,
        ge=1,
        le=366,
        description="Default and longest lifetime of a new API token; a token never outlives "
        "the token that created it either.",
    )
    web_session_hours: int = Field(
        default=12, ge=1, le=24 * 30, description="Longest life of a web session (absolute)."
    )
    web_session_idle_minutes: int = Field(
        default=30, ge=1, le=24 * 60, description="A web session unused this long ends."
    )
    invitation_ttl_days: int = Field(
        default=7, ge=1, le=30, description="Lifetime of a one-time invitation to join."
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
    audit_journal_file: Path | None = Field(
        default=None,
        description="Append-only journal of every checkpoint signed (server side); unset: "
        "audit-checkpoints.jsonl next to the audit key file.",
    )
    audit_public_key: str | None = Field(
        default=None,
        description="Client side: the audit log's verifier key (<name>+<key ID>+<key>), or the "
        "path of a file holding it; unset: the key is pinned on first use.",
    )
    audit_trust_dir: Path = Field(
        default=Path("~/.config/prereview/trust"),
        description="Client side: where the pinned audit key and the last checkpoint seen are "
        "kept, one 0600 file per server.",
    )
    audit_witnesses: list[WitnessEndpoint] = Field(
        default_factory=list,
        description="Server side: the witnesses (C2SP tlog-witness) each new checkpoint is sent "
        'to, as a JSON list: \'[{"url": "https://w.example", "key": "<name>+<id>+<key>"}]\'.',
    )
    audit_witness_timeout_s: float = Field(
        default=3.0, gt=0, le=60, description="Server side: how long one witness may take."
    )
    audit_witness_retry_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Server side: a witness that failed is tried again after this many seconds.",
    )
    audit_witness_keys: list[str] = Field(
        default_factory=list,
        description="Client side: the witness verifier keys whose cosignatures count, as a JSON "
        "list; unset: the keys of audit_witnesses.",
    )
    audit_min_witnesses: int = Field(
        default=0,
        ge=0,
        le=100,
        description="Client side: valid witness cosignatures a checkpoint needs to be accepted.",
    )
    attestation_key_file: Path = Field(
        default=Path("var/attestation-signing.key"),
        description="Ed25519 key (PKCS#8 PEM, 0600) that signs participation attestations; "
        "created on first use.",
    )
    attestation_public_key: str | None = Field(
        default=None,
        description="Client side: the platform's attestation public key (PEM), or the path of a "
        "file holding it, for `prereview attest verify`.",
    )
    transparency_epsilon: float | None = Field(
        default=None,
        gt=0,
        le=10,
        description="Differential-privacy noise on the public transparency report's counts: "
        "the epsilon of each count (OpenDP discrete Laplace). Unset: no noise (the default).",
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
    gateway_upstream_allow: list[str] = Field(
        default_factory=list,
        description="Exact origins (scheme://host:port) the gateway may reach although they are "
        "loopback, private, link-local or this machine's own, as a JSON list, e.g. "
        "'[\"http://127.0.0.1:8123\"]'. Anything else on those addresses is refused.",
    )

    max_import_bytes: int = Field(
        default=64 * 2**20,
        ge=1,
        description="Largest bulk import body (default 64 MiB), refused as soon as it is passed.",
    )
    reproduction_artefact_dir: Path | None = Field(
        default=None,
        description="Pinned package releases a report's proof of concept may be run against, "
        "besides the task cache: a folder holding the files and a pins.toml listing each "
        "(name, version, filename, size, sha256). Nothing is ever downloaded to reproduce.",
    )
    max_poc_bytes: int = Field(
        default=64 * 1024,
        ge=1,
        description="Largest proof-of-concept script (default 64 KiB), refused (413) while read.",
    )
    max_parsed_body_bytes: int = Field(
        default=16 * 2**20,
        ge=1024,
        description="Largest JSON or form request body (default 16 MiB), refused (413) as soon "
        "as it is passed; uploads and imports have their own limits.",
    )
    partial_upload_grace_minutes: int = Field(
        default=360,
        ge=1,
        le=7 * 24 * 60,
        description="An aborted upload's .partial blob not written for this long is swept (at "
        "start-up and by `prereview maintenance sweep`); a live upload writes every chunk.",
    )
    http_header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="A connection that has not sent a request's complete headers within this "
        "many seconds (from connecting, or from its previous response) is closed.",
    )
    http_keep_alive_timeout_s: float = Field(
        default=5.0, gt=0, le=300, description="An idle keep-alive connection is closed after this."
    )
    http_max_header_bytes: int = Field(
        default=16 * 1024,
        ge=1024,
        le=1024 * 1024,
        description="Largest request line and headers accepted (h11's incomplete-event limit).",
    )

    @property
    def audit_journal_path(self) -> Path:
        """The published-checkpoints journal: the setting, or next to the audit key file."""
        if self.audit_journal_file is not None:
            return self.audit_journal_file
        return self.audit_key_file.parent / "audit-checkpoints.jsonl"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings() -> Settings:
    """Settings from the environment; raises a readable error for an out-of-range value."""
    return Settings()
