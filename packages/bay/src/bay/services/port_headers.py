"""What of a client's request reaches a sandbox port, and what of the answer comes back."""

from datetime import datetime

from shipyard_protocol.api import PORT_TOKEN_PARAM

PORT_COOKIE = "shipyard_port_token"
# Hop-by-hop headers (RFC 9110 §7.6.1) end at each hop; Bay's credentials and the caller's
# claimed owner are Bay's, never the sandbox's.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# `expect`: Bay sends the body at once; a 100 Continue from the server would only be noise.
NOT_FORWARDED = HOP_BY_HOP | {"authorization", "host", "x-owner", "cookie", "expect"}
Headers = list[tuple[str, str]]


def port_token(query: str, cookie: str | None) -> str | None:
    """A port link's token: the query parameter first, then the cookie the first answer set."""
    for piece in query.split("&"):
        name, _, value = piece.partition("=")
        if name == PORT_TOKEN_PARAM and value:
            return value
    for piece in (cookie or "").split(";"):
        name, _, value = piece.strip().partition("=")
        if name == PORT_COOKIE and value:
            return value
    return None


def target(raw_path: str, prefix: str, query: str) -> str:
    """Path and query on the sandbox's server: the raw path after the port, and the query
    without the link's token (the server has no use for it, and its logs should not keep it)."""
    path = raw_path.removeprefix(prefix) or "/"
    kept = [p for p in query.split("&") if p and not p.startswith(f"{PORT_TOKEN_PARAM}=")]
    return path + ("?" + "&".join(kept) if kept else "")


def forwarded(headers: Headers, prefix: str, scheme: str, client: str | None) -> Headers:
    """The client's headers for the sandbox's server, with where the request came from."""
    kept = [(k, v) for k, v in headers if k.lower() not in NOT_FORWARDED]
    cookies = _cookies_without_token(headers)
    if cookies:
        kept.append(("cookie", cookies))
    host = next((v for k, v in headers if k.lower() == "host"), "")
    kept += [
        ("x-forwarded-host", host),
        ("x-forwarded-proto", scheme),
        ("x-forwarded-prefix", prefix),
    ]
    if client:
        kept.append(("x-forwarded-for", client))
    return kept


def relayed(headers: Headers) -> list[tuple[bytes, bytes]]:
    """The server's answer headers for the client, repeated ones (set-cookie) kept."""
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers if k not in HOP_BY_HOP]


def token_cookie(token: str, prefix: str, expires_at: datetime, now: datetime, secure: bool) -> str:
    """Keeps a link working for a browser's later requests under the port's path only."""
    seconds = max(0, int((expires_at - now).total_seconds()))
    cookie = f"{PORT_COOKIE}={token}; Path={prefix}/; Max-Age={seconds}; HttpOnly; SameSite=Lax"
    return cookie + ("; Secure" if secure else "")


def _cookies_without_token(headers: Headers) -> str:
    pieces = [
        piece.strip()
        for name, value in headers
        if name.lower() == "cookie"
        for piece in value.split(";")
        if piece.strip() and not piece.strip().startswith(f"{PORT_COOKIE}=")
    ]
    return "; ".join(pieces)
