"""Per-session bearer tokens for a Ship that listens on TCP, derived from one Bay secret."""

import hashlib
import hmac
import os
import secrets
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
        if configured is not None:
            return cls(configured.get_secret_value().encode())
        return cls(_stored_secret(data_dir / SECRET_FILE))

    def token(self, session_id: str) -> str:
        return hmac.new(self._secret, session_id.encode(), hashlib.sha256).hexdigest()

    def digest(self, session_id: str) -> str:
        return hashlib.sha256(self.token(session_id).encode()).hexdigest()

    def __repr__(self) -> str:
        return "ShipTokens(<secret>)"


def _stored_secret(path: Path) -> bytes:
    """Read the secret, creating it (mode 0600, exclusively) if no Bay has yet."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_bytes().strip()
        if len(secret) < 32:
            raise DriverError(f"{path} holds no usable secret; delete it for a new one") from None
        return secret
    secret = secrets.token_hex(32).encode()
    with os.fdopen(fd, "wb") as file:
        file.write(secret + b"\n")
    return secret
