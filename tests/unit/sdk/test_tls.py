"""The TLS context: built once per CA setting, and never for a client given its transport."""

import certifi
import httpx
import pytest

from shipyard import Client
from shipyard._requests import client_options


def test_clients_share_one_context_per_ca_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    first = client_options(None, None, 1.0, None)["verify"]
    assert client_options(None, None, 1.0, None)["verify"] is first

    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())  # another setting: its own context
    other = client_options(None, None, 1.0, None)["verify"]
    assert other is not first
    assert client_options(None, None, 1.0, None)["verify"] is other


def test_a_client_given_a_transport_reads_no_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent/ca.pem")
    transport = httpx.MockTransport(
        lambda _: httpx.Response(200, json={"status": "ok", "version": "1"})
    )
    with Client("http://bay", "sk-key", transport=transport) as client:
        assert client.health().status == "ok"
