"""The loopback front door the checklist's browsers talk to: a small reverse proxy in front of a
real `vpo serve` that adds one same-origin `<script>` to each HTML page and can answer a planned
number of API polls with 503/429.

Why a proxy: the checklist needs a script in the page before the page's own scripts run (the
probe that records errors, CSP violations and fetches, and for the timing checks a fake clock).
Playwright can add one in Chromium, Firefox's driver could with WebDriver BiDi, but Debian's
WebKitGTK driver speaks only classic WebDriver, which cannot. Serving the script from the page's
own origin works the same in every engine and keeps the page's strict CSP intact
(`script-src 'self'`). Everything else passes through unchanged: status, headers (CSP and ETag
included), bodies, the Host header, so the daemon's own checks still apply.

When the daemon is down the proxy drops the browser's connection without an answer, so the page
sees a network error, as it would talking to the daemon directly.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).parent
PROBE_PATH = "/__checklist__/probe.js"
PROBE_TAG = f'<script src="{PROBE_PATH}"></script>'.encode()
# A same-origin script that throws, for the test that shows the probe catches page errors.
THROWING_PATH = "/__checklist__/throws.js"
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "accept-encoding",
}
# Injected failures, as the daemon (or a proxy in front of it) would send them. Both count as a
# failed poll under the polling rules (docs/design.md §7); a refused connection is covered by
# stopping the real daemon.
FAILURES = {
    "unavailable": (503, {"error": "Injected by the test harness", "code": "UNAVAILABLE"}),
    "too_many": (429, {"error": "Injected by the test harness", "code": "RATE_LIMITED"}),
}


class PageHarness:
    """A started proxy on 127.0.0.1 (ephemeral port) forwarding to `upstream_port`."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.fake_clock = False
        self._plan: deque[str] = deque()
        self._plan_prefix = ""
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def plan_failures(self, path_prefix: str, outcomes: list[str]) -> None:
        """Answer the next requests under `path_prefix` with these outcomes, one each: "ok"
        (forwarded), "unavailable" (503) or "too_many" (429). Later requests are forwarded."""
        unknown = set(outcomes) - {"ok", *FAILURES}
        if unknown:
            raise ValueError(f"unknown outcomes {sorted(unknown)}")
        with self._lock:
            self._plan = deque(outcomes)
            self._plan_prefix = path_prefix

    def _planned(self, path: str) -> str:
        with self._lock:
            if self._plan and path.startswith(self._plan_prefix):
                return self._plan.popleft()
        return "ok"

    def probe_script(self) -> bytes:
        parts = [(HERE / "page_probe.js").read_bytes()]
        if self.fake_clock:
            parts.append((HERE / "fake_clock.js").read_bytes())
        return b"\n".join(parts)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        harness = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass  # the daemon logs requests; a second log of the same traffic adds nothing

            def do_GET(self) -> None:
                self.forward()

            def do_POST(self) -> None:
                self.forward()

            def do_HEAD(self) -> None:
                self.forward()

            def reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if self.path == PROBE_PATH:
                    self.reply(
                        200,
                        [("Content-Type", "text/javascript"), ("Cache-Control", "no-store")],
                        harness.probe_script(),
                    )
                    return
                if self.path == THROWING_PATH:
                    script = b"throw new Error('thrown by a page script');"
                    self.reply(200, [("Content-Type", "text/javascript")], script)
                    return
                outcome = harness._planned(self.path)
                if outcome in FAILURES:
                    status, envelope = FAILURES[outcome]
                    payload = json.dumps({**envelope, "details": {}}).encode()
                    self.reply(status, [("Content-Type", "application/json")], payload)
                    return
                headers = {
                    name: value
                    for name, value in self.headers.items()
                    if name.lower() not in HOP_BY_HOP
                }
                upstream = http.client.HTTPConnection(
                    "127.0.0.1", harness.upstream_port, timeout=30
                )
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    content = answer.read()
                except OSError:
                    # The daemon is down: no answer at all, the browser sees a network error.
                    self.close_connection = True
                    return
                finally:
                    upstream.close()
                kept = [(n, v) for n, v in answer.getheaders() if n.lower() not in HOP_BY_HOP]
                if answer.getheader("Content-Type", "").startswith("text/html"):
                    content = content.replace(b"<head>", b"<head>\n" + PROBE_TAG, 1)
                self.reply(answer.status, kept, content)

        return Handler
