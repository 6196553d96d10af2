"""The client's TLS set-up: an https:// daemon is still verified, an http:// one needs no CA bundle.

A real TLS server on 127.0.0.1 with a self-signed certificate (made by the `openssl` command):
a client must refuse it unless told to trust that certificate, which shows verification is on.
"""

from __future__ import annotations

import http.server
import json
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from vpo.client import AsyncVpoClient, DaemonUnreachable, VpoClient

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


class HealthHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"status": "ok"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[str]:
    """https://127.0.0.1:PORT served with a fresh self-signed certificate for 127.0.0.1."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HealthHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_https_daemon_with_an_untrusted_certificate_is_refused(tls_server):
    with VpoClient(tls_server) as client, pytest.raises(DaemonUnreachable) as raised:
        client.health()
    assert "certificate" in raised.value.reason.lower()


async def test_async_client_refuses_it_too(tls_server):
    client = AsyncVpoClient(tls_server)
    try:
        with pytest.raises(DaemonUnreachable) as raised:
            await client.health()
        assert "certificate" in raised.value.reason.lower()
    finally:
        await client.aclose()


def test_plain_http_client_loads_no_ca_bundle():
    """The http:// transport's TLS context trusts no certificate at all (see the client)."""
    client = VpoClient("http://127.0.0.1:1")
    try:
        transport = client._http._transport  # the default transport the client was given
        context = transport._pool._ssl_context  # type: ignore[attr-defined]
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.cert_store_stats()["x509_ca"] == 0
    finally:
        client.close()
