"""A real `vpo serve` subprocess for tests: free loopback port, temp data dir, start/stop/kill.

Tests talk to the daemon over real HTTP, so this module only manages the process and says when
it is ready (by polling `/health`). When the daemon fails to come up, the error carries its
stderr so the cause is visible in the test report instead of a bare timeout.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

VPO_EXECUTABLE = Path(sys.executable).parent / "vpo"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0


class DaemonError(RuntimeError):
    """The daemon did not start or stop as expected; the message includes its stderr."""


def wait_until(
    condition: Callable[[], T], timeout: float = 10.0, interval: float = 0.03, message: str = ""
) -> T:
    """Poll `condition` until it returns a truthy value and return that value.

    Tests wait on observable state with a deadline instead of sleeping a fixed time, so they are
    as fast as the system allows and fail with a clear message when the state never arrives.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(message or f"condition not met within {timeout} s")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"unsupported config value {value!r}")


def render_config(config: Mapping[str, Mapping[str, Any]]) -> str:
    """TOML text for a two-level mapping such as {"server": {"auth_token": "..."}}."""
    parts = []
    for section, values in config.items():
        parts.append(f"[{section}]")
        parts.extend(f"{key} = {_toml_value(value)}" for key, value in values.items())
        parts.append("")
    return "\n".join(parts)


class DaemonProcess:
    """One `vpo serve` subprocess bound to 127.0.0.1 on a free port with its own data dir.

    `token` is written to `<data_dir>/config.toml` as `server.auth_token` (merged with `config`),
    so the daemon reads it the way a user's daemon would. The port is kept across `restart()` so
    clients holding `url` keep working.
    """

    def __init__(
        self,
        tmp_path: Path,
        *,
        token: str | None = None,
        extra_args: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
        config: Mapping[str, Mapping[str, Any]] | None = None,
        data_dir: Path | None = None,
        port: int | None = None,
        executable: Path | None = None,
    ) -> None:
        self.tmp_path = Path(tmp_path)
        # Another installation's `vpo` (the wheel smoke test runs the one it installed).
        self.executable = Path(executable) if executable else VPO_EXECUTABLE
        self.data_dir = Path(data_dir) if data_dir else self.tmp_path / "vpo-data"
        self.token = token
        self.extra_args = list(extra_args)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stderr_path = self.tmp_path / f"daemon-{self.port}.stderr"
        self.stdout_path = self.tmp_path / f"daemon-{self.port}.stdout"
        self.process: subprocess.Popen[bytes] | None = None
        self._env = self._build_env(env)
        self._config: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (config or {}).items()}
        if token is not None:
            self._config.setdefault("server", {})["auth_token"] = token

    @staticmethod
    def _build_env(extra: Mapping[str, str] | None) -> dict[str, str]:
        # The developer's own VPO_* settings must not leak into a test daemon.
        env = {k: v for k, v in os.environ.items() if not k.startswith("VPO_")}
        env["PYTHONUNBUFFERED"] = "1"
        env.update(extra or {})
        return env

    # -- process control -------------------------------------------------------------------

    @property
    def command(self) -> list[str]:
        return [
            str(self.executable),
            "serve",
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            *self.extra_args,
        ]

    @property
    def pid(self) -> int:
        if self.process is None:
            raise DaemonError("daemon not started")
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stderr_text(self) -> str:
        """Everything the daemon wrote to stderr so far (its log)."""
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def spawn(self) -> subprocess.Popen[bytes]:
        """Start the process without waiting for it to be ready (for tests of refusals)."""
        if self.process is not None and self.process.poll() is None:
            raise DaemonError("daemon already running")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._config:
            (self.data_dir / "config.toml").write_text(render_config(self._config))
        # Files, not pipes: a chatty daemon must never block on a full pipe buffer.
        with (
            open(self.stderr_path, "ab") as stderr,
            open(self.stdout_path, "ab") as stdout,
        ):
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                env=self._env,
            )
        return self.process

    def start(self, timeout: float = START_TIMEOUT) -> DaemonProcess:
        """Start the daemon and return once `/health` answers 200."""
        stderr_offset = self.stderr_path.stat().st_size if self.stderr_path.exists() else 0
        process = self.spawn()
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0) as http:
            while True:
                code = process.poll()
                if code is not None:
                    raise DaemonError(
                        f"vpo serve exited with code {code} before it was ready:\n"
                        + self.stderr_text()[stderr_offset:]
                    )
                try:
                    if http.get(f"{self.url}/health").status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                if time.monotonic() >= deadline:
                    self.kill()
                    raise DaemonError(
                        f"vpo serve not healthy within {timeout} s:\n"
                        + self.stderr_text()[stderr_offset:]
                    )
                time.sleep(0.05)

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        """Wait for the process to exit and return its exit code."""
        if self.process is None:
            raise DaemonError("daemon not started")
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise DaemonError(
                f"vpo serve did not exit within {timeout} s:\n{self.stderr_text()}"
            ) from exc

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, then wait; returns the exit code (None if it was never started)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.wait(timeout)
            except DaemonError:
                self.kill()
                raise
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: the daemon gets no chance to clean up (crash simulation)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)

    def restart(self, timeout: float = START_TIMEOUT) -> DaemonProcess:
        """Stop (if running) and start again on the same port and data dir."""
        self.stop()
        return self.start(timeout)

    # -- HTTP conveniences -----------------------------------------------------------------

    @property
    def headers(self) -> dict[str, str]:
        """Request headers that authenticate (empty without a token)."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def client(self, *, authenticated: bool = True, timeout: float = 10.0) -> httpx.Client:
        """An httpx client for this daemon; the caller closes it (use `with`)."""
        return httpx.Client(
            base_url=self.url, headers=self.headers if authenticated else {}, timeout=timeout
        )

    def __enter__(self) -> DaemonProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.stop()
        finally:
            self.kill()

    def __repr__(self) -> str:
        return f"DaemonProcess(url={self.url!r}, data_dir={str(self.data_dir)!r})"


def queue_empty_scans(url: str, folder: Path, count: int) -> list[dict[str, Any]]:
    """Queue `count` scans of an empty `folder` (created here): jobs that exist and end at once."""
    folder.mkdir(exist_ok=True)
    with httpx.Client(base_url=url) as http:
        return [
            http.post("/api/jobs", json={"job_type": "scan", "path": str(folder)}).json()
            for _ in range(count)
        ]
