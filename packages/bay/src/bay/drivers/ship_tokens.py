"""Per-session bearer tokens for a Ship that listens on TCP, derived from one Bay secret."""

import contextlib
import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

from pydantic import SecretStr

from bay.drivers.base import DriverError

SECRET_FILE = "ship-secret"  # noqa: S105 - a file name, not a secret


class ShipTokens:
    """`token(session_id)` is HMAC-SHA256(secret, session_id): nothing per session is stored.

    A restarted Bay (reconcile included) derives the same tokens from the same secret, so the
    database and the logs never hold one. Ship gets only `digest(session_id)`, the token's
    SHA-256: code in the sandbox can read what its container was started with (the init
    process's environment, for one), and a digest there lets nobody in.
    """

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    @classmethod
    def load(cls, configured: SecretStr | None, data_dir: Path) -> "ShipTokens":
        """The configured secret, else the one in `<data_dir>/ship-secret` (made on first use)."""
        return cls(load_secret(configured, data_dir))

    def token(self, session_id: str) -> str:
        return hmac.new(self._secret, session_id.encode(), hashlib.sha256).hexdigest()

    def digest(self, session_id: str) -> str:
        return hashlib.sha256(self.token(session_id).encode()).hexdigest()

    def __repr__(self) -> str:
        return "ShipTokens(<secret>)"


def load_secret(configured: SecretStr | None, data_dir: Path) -> bytes:
    """Bay's secret: the configured one, else `<data_dir>/ship-secret` (made on first use)."""
    if configured is not None:
        return configured.get_secret_value().encode()
    return _stored_secret(data_dir / SECRET_FILE)


def _stored_secret(path: Path) -> bytes:
    """Read the secret, creating it (mode 0600) if no Bay has yet.

    Written to a private temp file, then linked into place: `link` fails if another Bay got
    there first, and a reader never sees a half-written file.
    """
    if not path.exists():
        secret = secrets.token_hex(32).encode()
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".ship-secret-")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(secret + b"\n")
            with contextlib.suppress(FileExistsError):
                os.link(temp, path)
        finally:
            os.unlink(temp)
    stored = path.read_bytes().strip()
    if len(stored) < 32:
        raise DriverError(f"{path} holds no usable secret; delete it for a new one")
    return stored
