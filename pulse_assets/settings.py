"""Pulse configuration, read from `PULSE_*` environment variables.

Every path Pulse writes lives under `PULSE_HOME`, so two homes never share state. An unset
warehouse URL selects the embedded PostgreSQL, an unset Qdrant URL selects Qdrant local mode.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

BUNDLED_MODEL_NAME = "pulse/all-MiniLM-L6-v2-int8"

# Padded tokens per embedding batch: 4 chunks of 256 tokens, or 64 of up to 16 tokens. The
# attention tensors of a batch grow with its texts times the square of its length, and batches
# of 64 long chunks made onnxruntime's memory arena grow with every pass over them. On the demo
# crawl, 1024 also embedded fastest of the budgets tried (512 to 8192).
DEFAULT_BATCH_TOKENS = 1024


class PulseSettings(BaseSettings):
    """Settings shared by the receiver, the Dagster code location and the CLI."""

    model_config = SettingsConfigDict(env_prefix="PULSE_", extra="ignore")

    home: Path = Field(default=Path(".pulse"), description="Folder for all state Pulse keeps.")
    warehouse_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of an external PostgreSQL; unset starts the embedded one.",
    )
    qdrant_url: str | None = Field(
        default=None, description="URL of a Qdrant server; unset uses local mode under the home."
    )
    qdrant_api_key: str | None = None
    qdrant_collection: str = "pulse_chunks"
    embedding_model: str = Field(
        default=BUNDLED_MODEL_NAME,
        description="fastembed model name; the default is the model bundled with Pulse.",
    )
    embedding_threads: int | None = None
    embedding_batch_size: int = 64
    embedding_batch_tokens: int = Field(
        default=DEFAULT_BATCH_TOKENS,
        ge=1,
        description="Largest number of padded tokens in one embedding batch.",
    )
    webhook_secret: str | None = Field(
        default=None, description="Firecrawl webhook secret used to verify signatures."
    )
    api_secret: str | None = Field(
        default=None, description="Value of the X-API-Secret header the metrics API requires."
    )
    insecure_dev: bool = Field(
        default=False, description="Accept unsigned deliveries when no secret is set."
    )
    max_body_bytes: int = Field(
        default=32 * 1024 * 1024, description="Largest webhook body accepted, in bytes."
    )
    receiver_threads: int = Field(
        default=8,
        ge=1,
        description="Worker threads of the receiver that parse large bodies and store batches.",
    )
    receiver_writers: int = Field(
        default=2,
        ge=1,
        description=(
            "Transactions that the receiver commits deliveries in at once. Deliveries that "
            "arrive meanwhile wait and go into the next transaction together."
        ),
    )

    @cached_property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def dagster_home(self) -> Path:
        return self.home_dir / "dagster"

    @property
    def postgres_dir(self) -> Path:
        return self.home_dir / "postgres"

    @property
    def qdrant_path(self) -> Path:
        return self.home_dir / "qdrant"

    @property
    def models_dir(self) -> Path:
        return self.home_dir / "models"

    @property
    def embedded_warehouse(self) -> bool:
        return self.warehouse_url is None

    @property
    def embedded_qdrant(self) -> bool:
        return self.qdrant_url is None


def load_settings() -> PulseSettings:
    """Read the settings from the environment."""
    return PulseSettings()
