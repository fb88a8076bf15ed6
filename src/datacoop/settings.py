"""DataCoop's one settings object.

Values come, highest first, from keyword arguments, ``DATACOOP_*`` environment
variables, and an optional TOML file (``DATACOOP_CONFIG``, else ``./datacoop.toml``).
Everything has a default that runs the embedded stack in ``./.datacoop``;
:meth:`Settings.refuse_unsafe_defaults` stops a production node from starting
on a development-only default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = ["Settings"]

GiB = 1024**3
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps")


def broker_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be the broker URL (its scheme), or None when it can."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else None
    if scheme in BROKER_SCHEMES:
        return None
    got = f"{scheme}://" if scheme is not None else "no scheme"  # the rest may hold a password
    return f"broker_url must start with one of {', '.join(f'{s}://' for s in BROKER_SCHEMES)} (got {got})"


class Settings(BaseSettings):
    """How one DataCoop node is put together."""

    model_config = SettingsConfigDict(env_prefix="DATACOOP_", extra="forbid", validate_default=True)

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path(".datacoop")
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="text for a terminal; json: one object a line, with request ids and access lines",
    )

    # database
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file datacoop.db in the data directory"
    )

    # blob store
    blob_store: Literal["local", "s3"] = "local"
    blob_dir: Path | None = Field(default=None, description="local store folder; default: <data_dir>/blobs")
    s3_bucket: str | None = None
    s3_prefix: str = "blobs/"
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    cid_profile: str = Field(default="kubo-cidv1", description="UnixFS import profile for new blobs")
    max_blob_bytes: int = Field(default=4 * GiB, gt=0)
    gc_grace_seconds: int = Field(default=24 * 3600, ge=0)

    # API
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    public_url: str | None = Field(default=None, description="URL clients use; default http://<host>:<port>")
    cors_origins: list[str] = Field(default_factory=list)
    max_request_body_bytes: int = Field(
        default=4 * 1024**2, ge=1024, le=GiB,
        description="largest request body a JSON route reads (413 past it); blob uploads stream under "
        "max_blob_bytes instead",
    )  # fmt: skip

    # rate limits: requests per rate_limit_window_seconds, per signed-in address and per client IP
    # (run uvicorn with --proxy-headers behind a proxy); 0 switches a counter off
    rate_limit_window_seconds: int = Field(default=60, ge=1, le=86_400)
    rate_limit_sign_in_per_client: int = Field(
        default=60, ge=0, description="sign-in nonces and sign-ins from one IP per window"
    )
    rate_limit_sign_in_per_address: int = Field(default=20, ge=0, description="sign-ins of one address")
    rate_limit_uploads_per_client: int = Field(default=3000, ge=0, description="blob uploads from one IP")
    rate_limit_uploads_per_address: int = Field(default=1200, ge=0, description="blob uploads of one address")
    rate_limit_submissions_per_client: int = Field(default=3000, ge=0, description="submissions from one IP")
    rate_limit_submissions_per_address: int = Field(
        default=1200, ge=0, description="submissions of one address"
    )
    max_submissions_per_contributor: int = Field(
        default=1000, ge=1, le=1_000_000,
        description="submissions one contributor may make to one task (429 past it), unless the task's "
        "rules set their own max_submissions_per_contributor",
    )  # fmt: skip

    # fraud signals: accounts linked by a device or a funder go to review with the reason named
    fraud_device_shared_with: int = Field(
        default=2, ge=0,
        description="flag a submission whose device fingerprint other accounts also sent, at least this "
        "many of them (0: off)",
    )  # fmt: skip
    fraud_funder_shared_with: int = Field(
        default=2, ge=0,
        description="flag a submission whose contributor was first funded by the same address as at least "
        "this many other contributors to the task (0: off)",
    )  # fmt: skip
    fraud_funder_scan_blocks: int = Field(
        default=5000, ge=1, le=1_000_000,
        description="blocks read back from the head to find who first sent an account ETH (once per "
        "account, then cached)",
    )  # fmt: skip
    fraud_funder_exempt: list[str] = Field(
        default_factory=list,
        description="funders that link nobody (a faucet, an exchange's hot wallet); the operator always is",
    )

    # identity
    siwe_domain: str | None = Field(default=None, description="EIP-4361 domain; default: public URL's host")
    chain_id: int = Field(default=31337, gt=0)
    verifying_contract: str = ZERO_ADDRESS
    nonce_ttl_seconds: int = Field(default=600, gt=0)
    session_ttl_seconds: int = Field(default=24 * 3600, gt=0)
    dev_accounts: int = Field(default=4, ge=0, le=64, description="funded dev keys `up` creates")

    # chain
    chain: Literal["embedded", "rpc", "off"] = Field(
        default="embedded",
        description="embedded: DataCoop runs anvil itself; rpc: use rpc_url; off: no chain",
    )
    rpc_url: str | None = None
    operator_key: str | None = Field(
        default=None,
        description="hex key that posts roots and deploys: development only (production refuses it; use "
        "operator_keystore or operator_signer_url)",
    )
    operator_keystore: Path | None = Field(
        default=None, description="eth-account (scrypt) keystore file holding the operator's key"
    )
    operator_password_file: Path | None = Field(
        default=None,
        description="file holding operator_keystore's password (default: the CLI prompts for it)",
    )
    operator_signer_url: str | None = Field(
        default=None,
        description="external signer over JSON-RPC (eth_signTransaction, eth_signTypedData_v4), e.g. "
        "web3signer or Clef; the key never enters DataCoop",
    )
    operator_address: str | None = Field(
        default=None,
        pattern=r"^0x[0-9a-fA-F]{40}$",
        description="which of operator_signer_url's accounts operates (needed when it holds several)",
    )
    deployment_file: Path | None = Field(
        default=None,
        description="the contracts' addresses, as `datacoop deploy` writes them; default: "
        "<data_dir>/chain/deployment.json",
    )
    confirmations: int = Field(default=1, ge=1, le=1000, description="blocks a transaction needs to count")
    network: Literal["anvil", "sepolia", "base-sepolia"] | None = Field(
        default=None,
        description="a network profile (`datacoop deploy --network`): its EIP-1559 fee policy, and "
        "confirmations of at least its depth",
    )
    audit_anchor_seconds: int = Field(
        default=3600, ge=0, le=30 * 86_400,
        description="anchor the audit log's head on chain this often (0: only `datacoop audit anchor`)",
    )  # fmt: skip
    epoch_interval_seconds: int = Field(
        default=0, ge=0, le=30 * 86_400,
        description="close every funded task's epoch this often (0: only on demand, `datacoop epoch close`)",
    )  # fmt: skip
    anvil_path: str | None = None
    anvil_port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port")

    # pre-screening
    stages: list[str] | None = Field(
        default=None, description="run only these stages (default: every installed)"
    )
    screening_lease_seconds: int = Field(
        default=300, ge=1, description="a job whose worker is silent this long is taken up again"
    )
    broker_url: str | None = Field(
        default=None,
        description="redis://, rediss://, amqp:// or amqps:// broker feeding the workers; "
        "default: none (workers poll the database)",
    )
    broker_queue: str = Field(
        default="datacoop-prescreen", pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,99}$", description="broker queue"
    )
    broker_heartbeat_seconds: int = Field(
        default=60, ge=1, description="Redis: a worker silent this long is dead; its unacked jobs go back"
    )
    broker_maintenance: float = Field(
        default=0.01, gt=0, le=1, description="Redis: share of broker calls that also look for dead workers"
    )
    broker_sweep_seconds: int = Field(
        default=60, ge=1, description="broker workers re-publish jobs queued or orphaned this long"
    )

    # community review
    review_min_stake: int = Field(
        default=10**18, ge=0, description="token base units a validator must have staked to review"
    )
    review_assignment_ttl_seconds: int = Field(
        default=3600, ge=1, description="an assignment not voted this long is reassigned"
    )
    review_stake_cache_seconds: float = Field(
        default=5,
        ge=0,
        le=300,
        description="a validator's sufficient on-chain stake is re-read after this long (0: on every "
        "request); unbonding or outside slashing takes effect within it, the node's own slashing at once",
    )
    review_qualify_gold: int = Field(default=5, ge=1, description="gold answers before votes count")
    review_qualify_accuracy: float = Field(
        default=0.8, ge=0, le=1, description="gold accuracy that qualifies"
    )
    review_exclude_after_gold: int = Field(
        default=20, ge=1, description="gold answers after which a validator below the floor is excluded"
    )
    review_exclude_accuracy: float = Field(
        default=0.6, ge=0, le=1, description="gold accuracy floor; below it: excluded, proposed for slashing"
    )
    review_slash_amount: int = Field(
        default=10**18, gt=0, lt=2**256, description="token base units a slashing proposal takes"
    )

    # models (the relevance stage; a modality without a model is reported "not scored")
    text_model: Literal["minilm", "none"] = Field(
        default="minilm", description="minilm: all-MiniLM-L6-v2 from its Python package; none: off"
    )
    image_model_path: Path | None = Field(
        default=None, description="folder of a CLIP model saved by transformers; default: none"
    )

    # compliance
    compliance_policy: Path | None = Field(
        default=None,
        description="YAML cross-border transfer policy; default: the one shipped with DataCoop "
        "(datacoop/compliance/policies/default.yaml)",
    )

    # exchange
    download_secret: str | None = Field(
        default=None,
        min_length=32,
        description="HMAC key of signed download URLs; default: generated into <data_dir>/download_secret "
        "on first start (must be set in production)",
    )
    download_url_ttl_seconds: int = Field(
        default=600, ge=10, le=86_400, description="how long a signed download URL works"
    )

    # compute-to-data
    compute_allowed_requirements: list[str] = Field(
        default_factory=lambda: ["numpy", "pillow", "scikit-learn"],
        description="packages a buyer's algorithm may require (installed beside DataCoop; none per job)",
    )
    compute_cpu_seconds: int = Field(default=60, ge=1, le=86_400, description="CPU time of one job")
    compute_wall_seconds: int = Field(default=120, ge=1, le=86_400, description="wall-clock time of one job")
    compute_memory_bytes: int = Field(
        default=2 * GiB, ge=256 * 1024**2, description="address space of one job"
    )
    compute_output_bytes: int = Field(
        default=10 * 1024**2, ge=1024, description="largest output file, and all outputs together"
    )
    compute_output_files: int = Field(default=16, ge=1, le=10_000, description="most output files of one job")
    compute_tmp_bytes: int = Field(
        default=64 * 1024**2, ge=1024**2, description="size of a job's private /tmp (a tmpfs)"
    )
    compute_host_uid: int = Field(
        default=65534, ge=1, lt=2**32 - 1,
        description="the unprivileged host uid jobs run as when the node runs as root (never 0)",
    )  # fmt: skip
    compute_work_dir: Path | None = Field(
        default=None, description="where jobs run (their data materialised); default: the system temp folder"
    )

    # webhooks
    webhook_timeout_seconds: float = Field(
        default=10, gt=0, le=60, description="how long one webhook POST may take before it counts as failed"
    )
    webhook_retry_base_seconds: float = Field(
        default=5, gt=0, le=3600,
        description="wait after a webhook's first failed try; doubled after each further one, with jitter",
    )  # fmt: skip
    webhook_retry_cap_seconds: float = Field(
        default=3600, gt=0, le=86_400, description="the longest wait between two tries of a webhook"
    )
    webhook_max_age_seconds: int = Field(
        default=3 * 86_400, ge=1, le=30 * 86_400,
        description="a webhook not delivered this long after its event is given up (shown as failed)",
    )  # fmt: skip
    webhook_workers: int = Field(
        default=1, ge=0, le=64, description="threads delivering webhooks in each API process (0: none)"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get("DATACOOP_CONFIG", "datacoop.toml"))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_file))

    @field_validator("broker_url")
    @classmethod
    def _broker_scheme(cls, url: str | None) -> str | None:
        problem = broker_url_problem(url) if url is not None else None
        if problem:
            raise ValueError(problem)
        return url

    @model_validator(mode="after")
    def refuse_unsafe_defaults(self) -> Settings:
        if self.blob_store == "s3" and not self.s3_bucket:
            raise ValueError("s3_bucket is required when blob_store is 's3'")
        self._one_operator_key()
        if self.environment == "production":
            if self.operator_key:
                raise ValueError(
                    "operator_key is refused in production: a raw key in the environment or a config "
                    "file is one leak from theft; use operator_keystore (with operator_password_file) "
                    "or operator_signer_url"
                )
            if self.dev_accounts:
                raise ValueError("dev_accounts must be 0 in production: dev keys are public")
            if self.chain == "embedded":
                raise ValueError("chain must be 'rpc' in production (the embedded chain is a local dev node)")
            if self.database_url is None:
                raise ValueError(
                    "database_url must be set in production (the SQLite default is for one machine)"
                )
            if self.download_secret is None:
                raise ValueError(
                    "download_secret must be set in production (the generated one is for one machine)"
                )
        return self

    def _one_operator_key(self) -> None:
        given = [
            name
            for name in ("operator_key", "operator_keystore", "operator_signer_url")
            if getattr(self, name) is not None
        ]
        if len(given) > 1:
            raise ValueError(f"set one of {', '.join(given)}: each names the operator's key")

    # Derived values: one place, so nobody rebuilds them differently.

    @property
    def resolved_deployment_file(self) -> Path:
        return self.deployment_file or self.data_dir / "chain" / "deployment.json"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'datacoop.db').resolve()}"

    @property
    def resolved_blob_dir(self) -> Path:
        return self.blob_dir or self.data_dir / "blobs"

    @property
    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def resolved_siwe_domain(self) -> str:
        if self.siwe_domain:
            return self.siwe_domain
        return self.resolved_public_url.split("://", 1)[-1].split("/", 1)[0]
