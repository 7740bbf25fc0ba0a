"""Port links: what a token opens, for how long, and what of a request reaches the port."""

from datetime import UTC, datetime, timedelta

import pytest

from bay.errors import UnauthorizedError
from bay.services import port_headers
from bay.services.port_links import PortLinks, expiry

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class TestPortLinks:
    def test_a_token_opens_its_sandbox_port_until_it_expires(self) -> None:
        links = PortLinks(b"s" * 32)
        token = links.sign("alice", "sandbox-1", 8000, expiry(NOW, 60))
        grant = links.check(token, "sandbox-1", 8000, NOW + timedelta(seconds=59))
        assert (grant.owner, grant.expires_at) == ("alice", NOW + timedelta(seconds=60))
        with pytest.raises(UnauthorizedError, match="expired"):
            links.check(token, "sandbox-1", 8000, NOW + timedelta(seconds=60))

    @pytest.mark.parametrize(("sandbox_id", "port"), [("sandbox-2", 8000), ("sandbox-1", 8001)])
    def test_a_token_opens_nothing_else(self, sandbox_id: str, port: int) -> None:
        links = PortLinks(b"s" * 32)
        token = links.sign("alice", "sandbox-1", 8000, expiry(NOW, 60))
        with pytest.raises(UnauthorizedError, match="does not open"):
            links.check(token, sandbox_id, port, NOW)

    def test_another_secret_or_owner_breaks_the_token(self) -> None:
        token = PortLinks(b"s" * 32).sign("alice", "sandbox-1", 8000, expiry(NOW, 60))
        with pytest.raises(UnauthorizedError):
            PortLinks(b"t" * 32).check(token, "sandbox-1", 8000, NOW)
        expires, _, mac = token.split(".")
        forged = f"{expires}.Ym9i.{mac}"  # "bob"
        with pytest.raises(UnauthorizedError):
            PortLinks(b"s" * 32).check(forged, "sandbox-1", 8000, NOW)

    @pytest.mark.parametrize("token", ["", "x", "1.2", "a.b.c", "1.!!.c", "1." * 5])
    def test_a_malformed_token_is_401(self, token: str) -> None:
        with pytest.raises(UnauthorizedError):
            PortLinks(b"s" * 32).check(token, "sandbox-1", 8000, NOW)


class TestHeaders:
    def test_the_token_comes_from_the_query_then_the_cookie(self) -> None:
        assert port_headers.port_token("a=1&shipyard_token=q", "shipyard_port_token=c") == "q"
        assert port_headers.port_token("a=1", "x=1; shipyard_port_token=c") == "c"
        assert port_headers.port_token("", None) is None

    def test_the_target_keeps_the_raw_path_and_drops_the_token(self) -> None:
        prefix = "/v1/sandboxes/s/ports/80"
        target = port_headers.target(f"{prefix}/a%2Fb", prefix, "shipyard_token=t&x=1")
        assert target == "/a%2Fb?x=1"
        assert port_headers.target(f"{prefix}/", prefix, "shipyard_token=t") == "/"

    def test_bay_credentials_never_reach_the_port(self) -> None:
        headers = [
            ("authorization", "Bearer sk-bay"),
            ("x-owner", "alice"),
            ("host", "bay:8114"),
            ("cookie", "a=1; shipyard_port_token=t; b=2"),
            ("accept", "*/*"),
        ]
        forwarded = dict(port_headers.forwarded(headers, "/p", "http", "10.0.0.1"))
        assert "authorization" not in forwarded
        assert "x-owner" not in forwarded
        assert forwarded["cookie"] == "a=1; b=2"
        assert forwarded["x-forwarded-host"] == "bay:8114"
        assert forwarded["x-forwarded-prefix"] == "/p"
        assert forwarded["accept"] == "*/*"
