"""Daemon settings: data dir, TOML config file, environment, command-line flags (docs/design.md §3).

Precedence, per setting: command-line flag > environment variable > config file > default.
The data dir is resolved first (`--data-dir` > `$VPO_DATA_DIR` > `~/.vpo`) because the config
file lives in it (`<data dir>/config.toml`) unless `--config` (or `$VPO_CONFIG`) names another.

Config file keys:

    [server]   bind = "127.0.0.1", port = 8321, auth_token = "...",
               header_timeout_seconds = 10, body_timeout_seconds = 30,
               idle_timeout_seconds = 75, max_connections = 256, response_cache_mb = 4
    [logging]  level = "info" (debug|info|warning|error), format = "text" (text|json)
    [polling]  interval_seconds = 5 (2-60), log_interval_seconds = 15 (>= interval),
               idle_interval_seconds = 4 x interval (interval-60), enabled = true
    [jobs]     probe_concurrency = 2 (>= 1), retention_days = 30 (0 keeps jobs forever)
    [tui]      osc52 = false (vpo-tui's `y` copies through the terminal, OSC 52)
    [scan]     extensions = ["mkv", "mp4", ...], roots = ["/srv/media", ...] (absolute paths;
               when set, scans submitted over HTTP must lie under one of them)

Environment: VPO_DATA_DIR, VPO_CONFIG, VPO_BIND, VPO_PORT, VPO_AUTH_TOKEN, VPO_HEADER_TIMEOUT,
VPO_BODY_TIMEOUT, VPO_IDLE_TIMEOUT, VPO_MAX_CONNECTIONS, VPO_RESPONSE_CACHE_MB, VPO_LOG_LEVEL,
VPO_LOG_FORMAT, VPO_POLLING_INTERVAL, VPO_POLLING_LOG_INTERVAL, VPO_POLLING_IDLE_INTERVAL,
VPO_POLLING_ENABLED, VPO_PROBE_CONCURRENCY, VPO_RETENTION_DAYS, VPO_EXTENSIONS (comma separated),
VPO_SCAN_ROOTS (separated by ':', like PATH), VPO_TUI_OSC52.

Out-of-range polling values are clamped to the nearest valid value with a warning (the daemon
logs it); anything else that is wrong (bad TOML, a wrong type, an unparsable value) is a
ConfigError whose one-line message names the setting and where it came from. Unknown keys in
the file are reported as warnings, not errors, so a file shared with newer tools still loads.
"""

from __future__ import annotations

import copy
import functools
import ipaddress
import json
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from vpo.poll_hint import hint_to_send

DEFAULT_BIND = "127.0.0.1"
DEFAULT_PORT = 8321
# Slow or stalled clients (see vpo/server/protocol.py): how long a request's head and body may
# take to arrive, how long a kept-alive connection may sit idle, and how many may be open.
DEFAULT_HEADER_TIMEOUT = 10
DEFAULT_BODY_TIMEOUT = 30
DEFAULT_IDLE_TIMEOUT = 75
DEFAULT_MAX_CONNECTIONS = 256
# The response cache, in MiB: a 50-job page is about 25 KB, so this holds some 150 pages.
DEFAULT_RESPONSE_CACHE_MB = 4
DEFAULT_EXTENSIONS = (
    "mkv",
    "mp4",
    "m4v",
    "avi",
    "mov",
    "webm",
    "ts",
    "m2ts",
    "wmv",
    "mpg",
    "mpeg",
)
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")
CONFIG_FILENAME = "config.toml"


class ConfigError(Exception):
    """A setting that cannot be used; the message is one line naming the key and its source."""


@functools.cache
def _polling_rules_cached() -> dict:
    text = resources.files("vpo").joinpath("polling_rules.json").read_text(encoding="utf-8")
    return json.loads(text)


def polling_rules() -> dict:
    """The §7 polling constants (vpo/polling_rules.json); a fresh copy the caller may change."""
    return copy.deepcopy(_polling_rules_cached())


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    bind: str = DEFAULT_BIND
    port: int = DEFAULT_PORT
    auth_token: str | None = None
    header_timeout_seconds: float = DEFAULT_HEADER_TIMEOUT
    body_timeout_seconds: float = DEFAULT_BODY_TIMEOUT
    idle_timeout_seconds: float = DEFAULT_IDLE_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    response_cache_mb: int = DEFAULT_RESPONSE_CACHE_MB
    log_level: str = "info"
    log_format: str = "text"
    polling_interval_seconds: float = 5
    polling_log_interval_seconds: float = 15
    # The X-Poll-Interval hint while no job is queued or running (docs/design.md §7).
    polling_idle_interval_seconds: float = 20
    polling_enabled: bool = True
    probe_concurrency: int = 2
    retention_days: int = 30
    extensions: tuple[str, ...] = DEFAULT_EXTENSIONS
    # Where HTTP clients may scan and browse (vpo/scanroots.py); empty: anywhere, no browsing.
    scan_roots: tuple[str, ...] = ()
    tui_osc52: bool = False  # read by vpo-tui only (a client setting in the shared file)
    config_path: Path | None = None  # the config file that was read, if any
    sources: dict[str, str] = field(default_factory=dict, compare=False)  # key -> where from

    @property
    def db_path(self) -> Path:
        return self.data_dir / "vpo.db"

    @property
    def is_loopback(self) -> bool:
        return is_loopback_address(self.bind)

    def poll_hint_ms(self, *, busy: bool) -> int:
        """The X-Poll-Interval of a polled answer: the interval while work is queued or
        running, the idle interval otherwise (vpo/poll_hint.py)."""
        return hint_to_send(
            round(self.polling_interval_seconds * 1000),
            round(self.polling_idle_interval_seconds * 1000),
            busy=busy,
        )

    def polling_config(self) -> dict:
        """The body of `GET /api/config/polling`."""
        return {
            "interval_ms": round(self.polling_interval_seconds * 1000),
            "log_interval_ms": round(self.polling_log_interval_seconds * 1000),
            "enabled": self.polling_enabled,
        }


def is_loopback_address(bind: str) -> bool:
    if bind.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(bind.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_data_dir(flag: str | Path | None, env: Mapping[str, str]) -> Path:
    """`--data-dir` > `$VPO_DATA_DIR` > `~/.vpo`, as an absolute path (not created here)."""
    chosen = str(flag) if flag else env.get("VPO_DATA_DIR") or "~/.vpo"
    return Path(chosen).expanduser().absolute()


# ---------------------------------------------------------------------------------------------
# Where each setting comes from: (settings field, config file key, environment variable,
# command-line dict key). The CLI dict uses the field names.

_SETTINGS_KEYS: tuple[tuple[str, str, str], ...] = (
    ("bind", "server.bind", "VPO_BIND"),
    ("port", "server.port", "VPO_PORT"),
    ("auth_token", "server.auth_token", "VPO_AUTH_TOKEN"),
    ("header_timeout_seconds", "server.header_timeout_seconds", "VPO_HEADER_TIMEOUT"),
    ("body_timeout_seconds", "server.body_timeout_seconds", "VPO_BODY_TIMEOUT"),
    ("idle_timeout_seconds", "server.idle_timeout_seconds", "VPO_IDLE_TIMEOUT"),
    ("max_connections", "server.max_connections", "VPO_MAX_CONNECTIONS"),
    ("response_cache_mb", "server.response_cache_mb", "VPO_RESPONSE_CACHE_MB"),
    ("log_level", "logging.level", "VPO_LOG_LEVEL"),
    ("log_format", "logging.format", "VPO_LOG_FORMAT"),
    ("polling_interval_seconds", "polling.interval_seconds", "VPO_POLLING_INTERVAL"),
    ("polling_log_interval_seconds", "polling.log_interval_seconds", "VPO_POLLING_LOG_INTERVAL"),
    (
        "polling_idle_interval_seconds",
        "polling.idle_interval_seconds",
        "VPO_POLLING_IDLE_INTERVAL",
    ),
    ("polling_enabled", "polling.enabled", "VPO_POLLING_ENABLED"),
    ("probe_concurrency", "jobs.probe_concurrency", "VPO_PROBE_CONCURRENCY"),
    ("retention_days", "jobs.retention_days", "VPO_RETENTION_DAYS"),
    ("extensions", "scan.extensions", "VPO_EXTENSIONS"),
    ("scan_roots", "scan.roots", "VPO_SCAN_ROOTS"),
    ("tui_osc52", "tui.osc52", "VPO_TUI_OSC52"),
)
_FILE_KEYS = {file_key for _, file_key, _ in _SETTINGS_KEYS}

# CLI dict keys that are accepted aliases of settings fields (click option names).
_CLI_ALIASES = {
    "polling_interval": "polling_interval_seconds",
    "polling_log_interval": "polling_log_interval_seconds",
    "polling_idle_interval": "polling_idle_interval_seconds",
    "token": "auth_token",
}


def _read_config_file(path: Path, explicit: bool) -> tuple[dict[str, Any], list[str]]:
    """Flattened `section.key -> value` from the TOML file, and warnings for unknown keys."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"config file {path} does not exist") from None
        return {}, []
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory") from None
    except PermissionError:
        raise ConfigError(f"config file {path} is not readable (permission denied)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    flat: dict[str, Any] = {}
    warnings: list[str] = []
    for section, table in data.items():
        if not isinstance(table, dict):
            warnings.append(f"ignoring unknown config key '{section}' in {path}")
            continue
        for key, value in table.items():
            dotted = f"{section}.{key}"
            if dotted in _FILE_KEYS:
                flat[dotted] = value
            else:
                warnings.append(f"ignoring unknown config key '{dotted}' in {path}")
    return flat, warnings


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _convert(name: str, value: Any, source: str, from_text: bool) -> Any:
    """Type-check (file values) or parse (env/flag text) one value for settings field `name`."""

    def fail(expected: str) -> ConfigError:
        return ConfigError(f"{source}: expected {expected}, got {value!r}")

    if name in ("bind",):
        if not isinstance(value, str) or not value.strip():
            raise fail("a host name or IP address")
        return value.strip()
    if name == "auth_token":
        if not isinstance(value, str):
            raise fail("a string")
        return value or None
    if name in ("log_level", "log_format"):
        choices = LOG_LEVELS if name == "log_level" else LOG_FORMATS
        if not isinstance(value, str):
            raise fail(" or ".join(choices))
        lowered = value.strip().lower()
        if lowered == "warn":
            lowered = "warning"
        if lowered not in choices:
            raise fail(" or ".join(choices))
        return lowered
    if name in (
        "port",
        "probe_concurrency",
        "retention_days",
        "max_connections",
        "response_cache_mb",
    ):
        if from_text and isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise fail("an integer") from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail("an integer")
        if name == "port" and not 0 <= value <= 65535:
            raise fail("a port number 0-65535")
        if name in ("probe_concurrency", "max_connections", "response_cache_mb") and value < 1:
            raise fail("at least 1")
        if name == "retention_days" and value < 0:
            raise fail("0 (keep forever) or more days")
        return value
    if name in ("header_timeout_seconds", "body_timeout_seconds", "idle_timeout_seconds"):
        if from_text and isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise fail("a number of seconds above 0") from None
        if not _is_number(value) or not math.isfinite(value) or value <= 0:
            raise fail("a number of seconds above 0")
        return _whole(value)
    if name in (
        "polling_interval_seconds",
        "polling_log_interval_seconds",
        "polling_idle_interval_seconds",
    ):
        if from_text and isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise fail("a number of seconds") from None
        if not _is_number(value) or not math.isfinite(value):
            raise fail("a number of seconds")
        return int(value) if float(value).is_integer() else float(value)
    if name in ("polling_enabled", "tui_osc52"):
        if from_text and isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise fail("true or false")
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if name == "extensions":
        if from_text and isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise fail("a list of file extensions")
        cleaned = tuple(dict.fromkeys(v.strip().lstrip(".").lower() for v in value if v.strip()))
        if not cleaned or any(not ext or "/" in ext for ext in cleaned):
            raise fail("a non-empty list of file extensions")
        return cleaned
    if name == "scan_roots":
        if from_text and isinstance(value, str):
            value = [part for part in value.split(os.pathsep) if part.strip()]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise fail("a list of absolute directory paths")
        if any(not root.startswith("/") or "\x00" in root for root in value):
            raise fail("absolute directory paths (starting with /)")
        # Lexically normalised here; symlinks are resolved at each check, so a root may be
        # mounted or re-pointed while the daemon runs.
        return tuple(dict.fromkeys(os.path.normpath(root) for root in value))
    raise AssertionError(f"no conversion for {name}")  # pragma: no cover - programming error


def load_settings(
    cli: Mapping[str, Any],
    env: Mapping[str, str],
    config_path: Path | None = None,
    *,
    check_bind: bool = True,
) -> tuple[Settings, list[str]]:
    """Settings by precedence flag > env > file > default, and warnings for the daemon log.

    `cli` holds the command-line values by settings field name (None = not given);
    `data_dir` and `config` are read from it too. `config_path` (the --config flag) wins over
    `cli["config"]` and `$VPO_CONFIG`; without any, `<data dir>/config.toml` is read if present.
    Raises ConfigError for anything that cannot be used, including (unless check_bind is
    False, for commands that do not listen) a non-loopback bind without an auth token (§3).
    """
    cli = {(_CLI_ALIASES.get(key, key)): value for key, value in cli.items() if value is not None}
    data_dir = resolve_data_dir(cli.get("data_dir"), env)
    explicit = config_path or cli.get("config") or cli.get("config_path") or env.get("VPO_CONFIG")
    file_path = Path(explicit).expanduser() if explicit else data_dir / CONFIG_FILENAME
    file_values, warnings = _read_config_file(file_path, explicit=bool(explicit))

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, file_key, env_var in _SETTINGS_KEYS:
        if name in cli:
            source = f"--{name.replace('_', '-')}"
            values[name] = _convert(name, cli[name], source, from_text=True)
        elif env.get(env_var, "") != "":
            values[name] = _convert(name, env[env_var], env_var, from_text=True)
            source = env_var
        elif file_key in file_values:
            source = f"{file_key} in {file_path}"
            values[name] = _convert(name, file_values[file_key], source, from_text=False)
        else:
            continue
        sources[name] = source

    rules = polling_rules()
    low = rules["interval_ms"]["min"] / 1000
    high = rules["interval_ms"]["max"] / 1000
    interval = values.get("polling_interval_seconds", rules["interval_ms"]["default"] / 1000)
    if not low <= interval <= high:
        clamped = min(max(interval, low), high)
        warnings.append(
            f"polling interval {interval:g}s ({sources['polling_interval_seconds']}) is outside "
            f"{low:g}-{high:g}s; using {clamped:g}s"
        )
        interval = clamped
    log_interval = values.get(
        "polling_log_interval_seconds", rules["log_interval_ms"]["default"] / 1000
    )
    if log_interval < interval:
        where = sources.get("polling_log_interval_seconds", "default")
        warnings.append(
            f"polling log interval {log_interval:g}s ({where}) is below the polling interval; "
            f"using {interval:g}s"
        )
        log_interval = interval
    idle_default = interval * rules["hint"]["idle_factor_default"]
    idle = values.get("polling_idle_interval_seconds", min(idle_default, high))
    if not interval <= idle <= high:
        clamped = min(max(idle, interval), high)
        warnings.append(
            f"polling idle interval {idle:g}s ({sources['polling_idle_interval_seconds']}) is "
            f"outside {interval:g}-{high:g}s (the polling interval to the maximum); "
            f"using {clamped:g}s"
        )
        idle = clamped
    values["polling_interval_seconds"] = _whole(interval)
    values["polling_log_interval_seconds"] = _whole(log_interval)
    values["polling_idle_interval_seconds"] = _whole(idle)

    settings = Settings(
        data_dir=data_dir,
        config_path=file_path if file_path.is_file() else None,
        sources=sources,
        **values,
    )
    if check_bind and (refusal := bind_refusal(settings)):
        raise ConfigError(refusal)
    return settings, warnings


# A token guarding a daemon reachable from the network needs this many characters that an
# attacker must guess; whitespace does not count (16 spaces are one guess away).
MIN_TOKEN_CHARACTERS = 16


def token_weakness(token: str) -> str | None:
    """Why `token` is too weak to guard a daemon beyond loopback (one clause), or None."""
    strong = sum(1 for character in token if not character.isspace())
    if strong >= MIN_TOKEN_CHARACTERS:
        return None
    return (
        f"the auth token needs at least {MIN_TOKEN_CHARACTERS} characters that are not "
        f"whitespace (it has {strong}): spaces, tabs and newlines are no secret"
    )


def bind_refusal(settings: Settings) -> str | None:
    """Why the daemon must not listen as configured, or None: beyond loopback needs a token."""
    if settings.is_loopback or settings.auth_token:
        return None
    return (
        f"refusing to listen on {settings.bind} without an auth token: set server.auth_token "
        "(or VPO_AUTH_TOKEN), or bind 127.0.0.1"
    )


def _whole(seconds: float) -> float:
    return int(seconds) if float(seconds).is_integer() else seconds
