"""Typed settings of the pre-settlement API (pydantic-settings), from the environment (`DRGAUDIT_API_*`)
or given to the application directly in tests."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """How `/api/v1` behaves; every field can be set as `DRGAUDIT_API_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="DRGAUDIT_API_", extra="forbid")

    max_body_kb: int = Field(default=512, ge=1, le=64 * 1024, description="Largest request body (KiB)")
    max_claims: int = Field(default=100, ge=1, le=10_000, description="Claims in one POST /screen at most")
    rate_per_minute: float = Field(default=60_000, gt=0, description="Requests per API key per minute")
    rate_burst: int = Field(default=1_000, ge=1, description="Requests per API key at once")
    rate_file: Path | None = Field(
        default=None,
        description="The rate limit's buckets shared by the worker processes (`drgaudit serve` sets it)",
    )
    check_seconds: float = Field(
        default=2.0, ge=0, le=3600, description="How often active rule packs and reference data are looked up"
    )
    page_size: int = Field(default=100, ge=1, le=1000, description="Cases per page of GET /cases (at most)")

    @property
    def max_body_bytes(self) -> int:
        return self.max_body_kb * 1024
