"""The secret key that seals the audit log (HMAC), kept outside the database.

A hash chain alone shows that an entry was edited, but whoever can write the database can also rewrite
the whole chain from the edited entry on. Every entry therefore also carries a seal, an HMAC-SHA256 of
its hash under a key the database does not hold: a chain rewritten without the key does not verify.

The key comes from `DRGAUDIT_AUDIT_KEY` (the key itself, at least 16 characters), else from the file
`DRGAUDIT_AUDIT_KEY_FILE`, else from `$DRGAUDIT_HOME/audit.key`, which is created (random, mode 0600)
the first time it is needed. A key file must be the user's own and readable by nobody else. Every
process that writes the casebook (CLI users, the web and API servers) must use the same key; the log's
head records the key's id (an HMAC of a constant, which tells nothing of the key), and a process with
another key is refused before it writes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from drgaudit.errors import DrgauditError
from drgaudit.settings import home_dir

KEY_ENV = "DRGAUDIT_AUDIT_KEY"
KEY_FILE_ENV = "DRGAUDIT_AUDIT_KEY_FILE"
KEY_FILE_NAME = "audit.key"
MIN_KEY_CHARS = 16


class AuditKeyError(DrgauditError):
    """The audit key is missing, too weak, readable by others, or not the key the log was sealed with."""


@dataclass(frozen=True)
class AuditKey:
    """A key and where it came from (the environment variable or the file), for messages."""

    secret: bytes
    source: str

    @property
    def key_id(self) -> str:
        """A public name of the key: equal keys have equal ids, and the id tells nothing of the key."""
        return hmac.new(self.secret, b"drgaudit audit key id", hashlib.sha256).hexdigest()[:16]

    def seal(self, text: str) -> str:
        """HMAC-SHA256 of `text` under the key, as hex."""
        return hmac.new(self.secret, text.encode(), hashlib.sha256).hexdigest()

    def check(self, text: str, seal: str | None) -> bool:
        """Whether `seal` is this key's seal of `text` (in constant time)."""
        return seal is not None and hmac.compare_digest(self.seal(text), seal)


_cache: dict[tuple[str | None, str | None, str], AuditKey] = {}


def audit_key() -> AuditKey:
    """The key of this process (see the module docstring); created in DRGAUDIT_HOME if there is none."""
    text = os.environ.get(KEY_ENV)
    named = os.environ.get(KEY_FILE_ENV)
    cache_key = (text, named, str(home_dir()))
    if cache_key in _cache:
        return _cache[cache_key]
    if text:
        key = _from_text(text.strip(), KEY_ENV)
    else:
        path = Path(named).expanduser() if named else home_dir() / KEY_FILE_NAME
        if not path.exists() and not named:
            _create(path)
        key = _from_file(path)
    _cache[cache_key] = key
    return key


def _from_text(text: str, source: str) -> AuditKey:
    if len(text) < MIN_KEY_CHARS:
        raise AuditKeyError(
            f"the audit key from {source} has {len(text)} characters; it needs at least {MIN_KEY_CHARS}"
        )
    return AuditKey(text.encode(), source)


def _create(path: Path) -> None:
    """A new random key in a file only its owner can read (never overwriting one made meanwhile)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise AuditKeyError(f"cannot create the audit key file {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_hex(32) + "\n")


def _from_file(path: Path) -> AuditKey:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise AuditKeyError(f"the audit key file {path} is not a regular file")
        if info.st_mode & 0o077:
            raise AuditKeyError(
                f"the audit key file {path} can be read or written by others (mode {stat.S_IMODE(info.st_mode):04o}); "
                f"run: chmod 600 {path}"
            )
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            raise AuditKeyError(f"the audit key file {path} belongs to another user")
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError as exc:
        raise AuditKeyError(f"no audit key file {path} (set {KEY_FILE_ENV} to the right file)") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditKeyError(f"cannot read the audit key file {path}: {exc}") from exc
    return _from_text(text, str(path))
