"""Typed settings of the review service (pydantic-settings): from the environment (`DRGAUDIT_WEB_*`),
from `drgaudit serve`'s options, or given to `create_app` directly in tests.

The secret that signs session cookies and CSRF tokens comes from `DRGAUDIT_WEB_SECRET_KEY`, else from
the key file `$DRGAUDIT_HOME/web-secret.key`, created (mode 0600) with 48 random bytes the first time;
every worker and every restart uses the same key, so sessions survive a restart.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from drgaudit.casebook.accounts import LoginPolicy
from drgaudit.errors import DrgauditError
from drgaudit.settings import home_dir

KEY_FILE = "web-secret.key"
MIN_KEY_LENGTH = 32


class WebSettings(BaseSettings):
    """How the review service runs; every field can be set as `DRGAUDIT_WEB_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="DRGAUDIT_WEB_", extra="forbid")

    database_url: str | None = Field(
        default=None, description="Casebook URL (default: $DRGAUDIT_DATABASE_URL, else the SQLite casebook)"
    )
    secret_key: SecretStr | None = Field(
        default=None, description="Signs cookies and CSRF tokens (≥ 32 characters)"
    )
    key_file: Path | None = Field(default=None, description=f"Key file (default: $DRGAUDIT_HOME/{KEY_FILE})")
    rules_dir: Path | None = Field(
        default=None, description="Rule pack whose region settings apply (default: bundled)"
    )
    session_hours: float = Field(
        default=12.0, gt=0, le=24 * 30, description="A session ends this long after log-in"
    )
    idle_minutes: float = Field(default=30.0, gt=0, description="…or after this long without a request")
    cookie_secure: bool = Field(default=False, description="Send cookies over HTTPS only (set it behind TLS)")
    lock_after: int = Field(default=5, ge=1, description="Failed log-ins in a row that lock an account")
    lock_minutes: float = Field(default=15.0, gt=0, description="How long a lock-out lasts")
    ip_window_minutes: float = Field(default=15.0, gt=0, description="Window of the per-address throttle")
    ip_max_failures: int = Field(
        default=20, ge=1, description="Failed log-ins from one address in the window"
    )
    max_upload_mb: float = Field(default=10.0, gt=0, le=200, description="Largest attachment accepted")
    max_import_mb: float = Field(
        default=1024.0,
        gt=0,
        le=16384,
        description="Largest data file imported from the pages (claims, hospitals, groups)",
    )
    page_size: int = Field(default=50, ge=10, le=500, description="Cases per queue page")

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_KEY_LENGTH:
            raise ValueError(f"the secret key needs at least {MIN_KEY_LENGTH} characters")
        return value

    @property
    def login_policy(self) -> LoginPolicy:
        return LoginPolicy(
            lock_after=self.lock_after, lock_minutes=self.lock_minutes,
            ip_window_minutes=self.ip_window_minutes, ip_max_failures=self.ip_max_failures,
        )  # fmt: skip

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def max_import_bytes(self) -> int:
        return int(self.max_import_mb * 1024 * 1024)

    def secret(self) -> str:
        """The signing secret: the setting, else the key file (created on first use)."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        return read_or_create_key(self.key_file or home_dir() / KEY_FILE)


def read_or_create_key(path: Path) -> str:
    """The key in `path`, made (0600, 48 random bytes) when the file does not exist yet."""
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48) + "\n")
        key = path.read_text(encoding="utf-8").strip()
    except FileExistsError:  # another worker made it at the same moment
        key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise DrgauditError(f"cannot read or create the web key file {path}: {exc}") from exc
    if len(key) < MIN_KEY_LENGTH:
        raise DrgauditError(f"the web key file {path} holds fewer than {MIN_KEY_LENGTH} characters")
    return key
