"""Where the daemon is and which token to send: `--url` / `--token` flags, the VPO_URL /
VPO_TOKEN environment, a named daemon of the client config (`--daemon` / VPO_DAEMON / its
`default`, see vpo/client_config.py), the daemon's own config, then the defaults
(docs/configuration.md, docs/cli.md).

The one resolution path of the CLI and the TUI, for one daemon (`resolve_daemon`) or several
(`resolve_daemons`, for `--all`); `vpo/client.py` uses `normalise_base_url` to check the URL it
is given. The client config is read only when it exists or a daemon is named, so clients
without one never parse TOML for it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vpo.client_errors import InvalidUrl
from vpo.httpx_import import httpx

if TYPE_CHECKING:
    from vpo.client_config import ClientConfig, DaemonEntry

DEFAULT_URL = "http://127.0.0.1:8321"
DEFAULT_PORT = 8321

_HOST_CHARACTERS = re.compile(r"^[A-Za-z0-9.\-_~%]+$|^\[[0-9A-Fa-f:.]+\]$")


def normalise_base_url(url: str) -> str:
    """`nas.local:8321/` -> `http://nas.local:8321`; InvalidUrl for what cannot be a daemon URL.

    Checked here, before any request, so a typo in --url or VPO_URL is reported as such rather
    than as an unreachable daemon (or an exception from deep inside httpx).
    """
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    scheme, rest = text.split("://", 1)
    text = f"{scheme}://{rest.rstrip('/')}"
    try:
        parsed = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise InvalidUrl(url, str(exc)) from None
    if parsed.scheme not in ("http", "https"):
        raise InvalidUrl(url, "it must start with http:// or https://")
    host = text.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    if host.startswith("[") and "]" in host:
        host = host[: host.index("]") + 1]
    else:
        host = host.split(":", 1)[0]
    if not host or not _HOST_CHARACTERS.match(host):
        raise InvalidUrl(url, "it has no valid host name")
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise InvalidUrl(url, f"port {parsed.port} is not between 1 and 65535")
    return text


def url_from_bind(bind: str | None, port: int | None) -> str:
    """The URL a client on the same machine uses to reach a daemon bound to `bind`:`port`."""
    host = (bind or "127.0.0.1").strip()
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"  # a wildcard bind listens on loopback too
    elif host in ("::", "[::]"):
        host = "::1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port or DEFAULT_PORT}"


def _daemon_server_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """Where the daemon on this machine listens and its token, as `vpo serve` would read them.

    The daemon's own settings loader is used (config file in the data dir or $VPO_CONFIG, and
    the VPO_BIND / VPO_PORT / VPO_AUTH_TOKEN variables), so the client finds a local daemon with
    no options. A broken config file simply means "use the defaults": it must never stop a
    command that was given --url anyway, and the daemon itself reports the error.
    """
    from vpo.config import ConfigError, load_settings

    try:
        settings, _warnings = load_settings({}, env, check_bind=False)
    except (ConfigError, OSError):
        return {}
    return {"bind": settings.bind, "port": settings.port, "auth_token": settings.auth_token}


@dataclass(frozen=True)
class DaemonTarget:
    """One daemon to talk to: its name in the client config (None: given by URL or found
    locally), its checked base URL and the token to send."""

    name: str | None
    url: str
    token: str | None


def _client_config(env: Mapping[str, str], *, required: bool) -> ClientConfig | None:
    """The client config when it exists (or must: a daemon was named), else None."""
    from vpo.client_config import ClientConfig, client_config_path, load_client_config

    path = client_config_path(env)
    if not required and not os.path.isfile(path):
        return None
    if required and not os.path.exists(path):
        return ClientConfig(path=path, default=None, daemons={})  # `entry` then names the file
    return load_client_config(path)


def configured_daemons(env: Mapping[str, str] | None = None) -> ClientConfig:
    """Every named daemon of the client config (an empty config when there is no file)."""
    config = _client_config(os.environ if env is None else env, required=True)
    assert config is not None
    return config


def _target_of(entry: DaemonEntry, token_flag: str | None, env: Mapping[str, str]) -> DaemonTarget:
    token = token_flag or env.get("VPO_TOKEN") or None
    if token is None:
        token = entry.resolve_token()
    try:
        url = normalise_base_url(entry.url)
    except InvalidUrl as exc:
        from vpo.client_config import ClientConfigError

        raise ClientConfigError(f"daemon '{entry.name}' in {entry.source}: {exc}") from None
    return DaemonTarget(entry.name, url, token)


def resolve_daemon(
    url_flag: str | None,
    token_flag: str | None,
    env: Mapping[str, str] | None = None,
    *,
    daemon_flag: str | None = None,
    config_server: Mapping[str, Any] | None = None,
) -> DaemonTarget:
    """The one daemon a command talks to, by precedence (docs/cli.md):

    URL: `--url` > VPO_URL > the named daemon (`--daemon` > VPO_DAEMON > the client config's
    `default` > its only daemon) > the local daemon's bind/port settings > the built-in URL.
    Token: `--token` > VPO_TOKEN > the named daemon's token > the local daemon's auth token.
    A daemon named with `--daemon`/VPO_DAEMON that is not configured is an `UnknownDaemon`.
    """
    env = os.environ if env is None else env
    name = daemon_flag or env.get("VPO_DAEMON") or None
    url = url_flag or env.get("VPO_URL") or None
    config = _client_config(env, required=name is not None)
    entry = None
    if config is not None:
        entry = config.entry(name) if name is not None else config.implicit_choice()
    if entry is not None and (url is None or name is not None):
        if url is None:
            return _target_of(entry, token_flag, env)
        # A named daemon reached by another URL (a tunnel): its token still applies.
        token = token_flag or env.get("VPO_TOKEN") or entry.resolve_token()
        return DaemonTarget(entry.name, normalise_base_url(url), token)
    base_url, token = _unnamed_settings(url, token_flag, env, config_server)
    return DaemonTarget(None, base_url, token)


def resolve_daemons(
    names: Sequence[str],
    *,
    every: bool = False,
    token_flag: str | None = None,
    env: Mapping[str, str] | None = None,
) -> list[DaemonTarget]:
    """Several named daemons at once: `names` (several `--daemon`), or `every` one configured
    (`--all`), in the config file's order. Unknown names and an empty config are errors."""
    from vpo.client_config import ClientConfigError

    env = os.environ if env is None else env
    config = _client_config(env, required=True)
    assert config is not None
    if every:
        if not config.daemons:
            raise ClientConfigError(
                f"--all needs named daemons: none configured in {config.path} "
                '(see docs/cli.md, "Named daemons")'
            )
        entries = list(config.daemons.values())
    else:
        entries = [config.entry(name) for name in dict.fromkeys(names)]
    return [_target_of(entry, token_flag, env) for entry in entries]


def osc52_enabled(env: Mapping[str, str]) -> bool:
    """`tui.osc52` (or VPO_TUI_OSC52) from the same config file: may vpo-tui's `y` copy through
    the terminal? A broken file means no, as above."""
    from vpo.config import ConfigError, load_settings

    try:
        settings, _warnings = load_settings({}, env, check_bind=False)
    except (ConfigError, OSError):
        return False
    return settings.tui_osc52


def client_settings(
    url_flag: str | None,
    token_flag: str | None,
    env: Mapping[str, str] | None = None,
    *,
    config_server: Mapping[str, Any] | None = None,
    daemon_flag: str | None = None,
) -> tuple[str, str | None]:
    """(base URL, token) of `resolve_daemon`: flag > environment > named daemon > config >
    default."""
    target = resolve_daemon(
        url_flag, token_flag, env, daemon_flag=daemon_flag, config_server=config_server
    )
    return target.url, target.token


def _unnamed_settings(
    url: str | None,
    token_flag: str | None,
    env: Mapping[str, str],
    config_server: Mapping[str, Any] | None,
) -> tuple[str, str | None]:
    """(base URL, token) by the documented precedence: flag > environment > config > default.

    URL: `--url` > VPO_URL > the daemon's bind/port settings > http://127.0.0.1:8321.
    Token: `--token` > VPO_TOKEN > the daemon's auth token setting > none.
    `config_server` ({"bind", "port", "auth_token"}) lets tests pass the daemon's settings
    directly; otherwise they are loaded only when the flags and environment leave a gap.
    """
    token = token_flag or env.get("VPO_TOKEN") or None
    if url is None or token is None:
        server = _daemon_server_settings(env) if config_server is None else config_server
        if url is None:
            if server.get("bind") or server.get("port"):
                port = server.get("port")
                url = url_from_bind(server.get("bind"), int(port) if port else None)
            else:
                url = DEFAULT_URL
        if token is None:
            configured = server.get("auth_token")
            token = str(configured) if configured else None
    return normalise_base_url(url), token
