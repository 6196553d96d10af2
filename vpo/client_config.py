"""The client's own config file: named daemons (docs/cli.md, "Named daemons").

`$XDG_CONFIG_HOME/vpo/client.toml` (default `~/.config/vpo/client.toml`):

    default = "films"                 # optional
    [daemons.films]
    url = "http://nas1:8321"
    token_file = "~/.config/vpo/films.token"   # or token = "..."
    [daemons.tv]
    url = "http://nas2:8321"

Imported by `vpo.client_settings` only when that file exists or a daemon is asked for by name,
so clients without one never pay for reading TOML. Every problem is a `ClientConfigError`
whose one line names the file (and the daemon, the key); a token file that other users can read
is refused, with the chmod that fixes it.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from vpo.client_errors import VpoError

CLIENT_CONFIG_NAME = "client.toml"
_DAEMON_KEYS = {"url", "token", "token_file"}


class ClientConfigError(VpoError):
    """The client config (or a token file it names) cannot be used; one line says why."""


class UnknownDaemon(ClientConfigError):
    """A daemon asked for by name (--daemon, VPO_DAEMON, `default`, `name:id`) is not configured."""


def client_config_path(env: Mapping[str, str]) -> Path:
    """`$XDG_CONFIG_HOME/vpo/client.toml`, else `~/.config/vpo/client.toml`."""
    base = env.get("XDG_CONFIG_HOME") or ""
    root = Path(base).expanduser() if base.strip() else Path("~/.config").expanduser()
    return root / "vpo" / CLIENT_CONFIG_NAME


@dataclass(frozen=True)
class DaemonEntry:
    """One `[daemons.NAME]` table; the token is read only when this daemon is used."""

    name: str
    url: str
    token: str | None
    token_file: Path | None
    source: Path

    def resolve_token(self) -> str | None:
        if self.token is not None:
            return self.token or None
        if self.token_file is None:
            return None
        return read_token_file(self.token_file, self.name)


@dataclass(frozen=True)
class ClientConfig:
    path: Path
    default: str | None
    daemons: dict[str, DaemonEntry]  # in file order

    def entry(self, name: str) -> DaemonEntry:
        try:
            return self.daemons[name]
        except KeyError:
            known = ", ".join(self.daemons) or "none"
            raise UnknownDaemon(
                f"no daemon named '{name}' in {self.path} (configured: {known})"
            ) from None

    def implicit_choice(self) -> DaemonEntry | None:
        """The daemon used when none is named: `default`, else the only one, else none."""
        if self.default is not None:
            return self.entry(self.default)
        if len(self.daemons) == 1:
            return next(iter(self.daemons.values()))
        return None


def read_token_file(path: Path, name: str) -> str:
    """The token in `path` (surrounding whitespace dropped), refusing a file others can read."""
    shown = str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ClientConfigError(f"token file {shown} of daemon '{name}' does not exist") from None
    except OSError as exc:
        raise ClientConfigError(
            f"token file {shown} of daemon '{name}' cannot be read: {exc.strerror}"
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise ClientConfigError(f"token file {shown} of daemon '{name}' is not a regular file")
    if info.st_mode & (stat.S_IRGRP | stat.S_IROTH):
        mode = stat.S_IMODE(info.st_mode)
        raise ClientConfigError(
            f"token file {shown} of daemon '{name}' can be read by other users "
            f"(mode {mode:04o}); refusing to use it. Fix: chmod 600 {shown}"
        )
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ClientConfigError(
            f"token file {shown} of daemon '{name}' cannot be read: {reason}"
        ) from None
    if not text:
        raise ClientConfigError(f"token file {shown} of daemon '{name}' is empty")
    return text


def load_client_config(path: Path) -> ClientConfig:
    """Parse and check the file; a missing file is an empty config."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        return ClientConfig(path=path, default=None, daemons={})
    except IsADirectoryError:
        raise ClientConfigError(f"client config {path} is a directory") from None
    except PermissionError:
        raise ClientConfigError(
            f"client config {path} is not readable (permission denied)"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ClientConfigError(f"client config {path} is not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ClientConfigError(f"client config {path} is not UTF-8 text") from None

    unknown = sorted(set(data) - {"default", "daemons"})
    if unknown:
        raise ClientConfigError(
            f"client config {path}: unknown key '{unknown[0]}' (expected default, [daemons.NAME])"
        )
    tables = data.get("daemons", {})
    if not isinstance(tables, dict):
        raise ClientConfigError(f"client config {path}: 'daemons' must be tables [daemons.NAME]")
    daemons = {name: _entry(path, name, table) for name, table in tables.items()}
    default = data.get("default")
    if default is not None and (not isinstance(default, str) or not default):
        raise ClientConfigError(f"client config {path}: 'default' must be a daemon's name")
    config = ClientConfig(path=path, default=default, daemons=daemons)
    if default is not None:
        config.entry(default)  # an unknown default is an error now, not at first use
    return config


def _entry(path: Path, name: str, table: object) -> DaemonEntry:
    where = f"client config {path}, daemon '{name}'"
    if not name or ":" in name or name.strip() != name:
        raise ClientConfigError(
            f"{where}: a daemon's name must be non-empty, without ':' or surrounding spaces"
        )
    if not isinstance(table, dict):
        raise ClientConfigError(f"{where}: expected a table [daemons.{name}]")
    unknown = sorted(set(table) - _DAEMON_KEYS)
    if unknown:
        raise ClientConfigError(
            f"{where}: unknown key '{unknown[0]}' (expected url, token, token_file)"
        )
    url = table.get("url")
    if not isinstance(url, str) or not url.strip():
        raise ClientConfigError(f"{where}: 'url' is required (e.g. url = \"http://nas:8321\")")
    token = table.get("token")
    token_file = table.get("token_file")
    if token is not None and token_file is not None:
        raise ClientConfigError(f"{where}: give 'token' or 'token_file', not both")
    if token is not None and not isinstance(token, str):
        raise ClientConfigError(f"{where}: 'token' must be a string")
    if token_file is not None and (not isinstance(token_file, str) or not token_file.strip()):
        raise ClientConfigError(f"{where}: 'token_file' must be a path")
    file_path = None
    if token_file is not None:
        file_path = Path(token_file).expanduser()
        if not file_path.is_absolute():
            file_path = path.parent / file_path  # relative to the config file, not the cwd
    return DaemonEntry(name=name, url=url.strip(), token=token, token_file=file_path, source=path)
