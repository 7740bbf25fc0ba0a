"""Signed, expiring tokens that open one sandbox port without an API key."""

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from bay.errors import UnauthorizedError
from shipyard_protocol.api import rfc3339

_PURPOSE = b"shipyard port links v1"


@dataclass(frozen=True)
class Grant:
    """A checked link: whose sandbox it opens, and until when."""

    owner: str
    expires_at: datetime


class PortLinks:
    """`sign` makes `<expiry>.<owner>.<mac>`, a MAC over sandbox id, port, expiry and owner.

    Nothing is stored: any Bay with the same secret checks a token, and a token for one
    sandbox or port never opens another. The key is derived from Bay's secret for this one
    purpose, so a port token can never be taken for a Ship token or the reverse.
    """

    def __init__(self, secret: bytes) -> None:
        self._key = hmac.new(secret, _PURPOSE, hashlib.sha256).digest()

    def sign(self, owner: str, sandbox_id: str, port: int, expires_at: datetime) -> str:
        expiry = str(int(expires_at.timestamp()))
        mac = self._mac(owner, sandbox_id, port, expiry)
        return f"{expiry}.{_b64(owner.encode())}.{mac}"

    def check(self, token: str, sandbox_id: str, port: int, now: datetime) -> Grant:
        """What the token grants; 401 when it is forged, for elsewhere, or expired."""
        expiry, owner = _parts(token)
        mac = token.rsplit(".", 1)[-1]
        if not hmac.compare_digest(mac, self._mac(owner, sandbox_id, port, expiry)):
            raise UnauthorizedError(
                f"this link does not open port {port} of sandbox {sandbox_id}",
                {"sandbox_id": sandbox_id, "port": port},
            )
        expires_at = datetime.fromtimestamp(int(expiry), now.tzinfo)
        if now >= expires_at:
            raise UnauthorizedError(
                f"this link expired at {rfc3339(expires_at)}; ask for a new one",
                {"sandbox_id": sandbox_id, "port": port, "expired_at": rfc3339(expires_at)},
            )
        return Grant(owner, expires_at)

    def _mac(self, owner: str, sandbox_id: str, port: int, expiry: str) -> str:
        message = "\n".join((sandbox_id, str(port), expiry, owner)).encode()
        return _b64(hmac.new(self._key, message, hashlib.sha256).digest())

    def __repr__(self) -> str:
        return "PortLinks(<secret>)"


def expiry(now: datetime, seconds: int) -> datetime:
    """Whole seconds, as the token carries them."""
    return (now + timedelta(seconds=seconds)).replace(microsecond=0)


def _parts(token: str) -> tuple[str, str]:
    pieces = token.split(".")
    try:
        if len(pieces) != 3 or not pieces[0].isascii() or not pieces[0].isdigit():
            raise ValueError("not three parts")
        owner = base64.urlsafe_b64decode(pieces[1] + "=" * (-len(pieces[1]) % 4)).decode()
    except (ValueError, binascii.Error) as exc:
        raise UnauthorizedError("this port link's token is malformed") from exc
    return pieces[0], owner


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
