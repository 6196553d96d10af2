"""Daemon settings: precedence flag > env > file > default, clamping, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from vpo.config import (
    DEFAULT_EXTENSIONS,
    ConfigError,
    Settings,
    bind_refusal,
    load_settings,
    polling_rules,
    resolve_data_dir,
    token_weakness,
)


def write_config(data_dir: Path, text: str) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "config.toml"
    path.write_text(text)
    return path


def load(tmp_path: Path, cli: dict | None = None, env: dict | None = None, **kwargs):
    env = {"VPO_DATA_DIR": str(tmp_path), **(env or {})}
    return load_settings(cli or {}, env, **kwargs)


def test_defaults(tmp_path: Path) -> None:
    settings, warnings = load(tmp_path)
    assert warnings == []
    assert settings == Settings(data_dir=tmp_path)
    assert (settings.bind, settings.port, settings.auth_token) == ("127.0.0.1", 8321, None)
    assert (settings.polling_interval_seconds, settings.polling_log_interval_seconds) == (5, 15)
    assert settings.polling_enabled is True
    assert (settings.probe_concurrency, settings.retention_days) == (2, 30)
    assert settings.extensions == DEFAULT_EXTENSIONS and "m2ts" in settings.extensions
    assert (settings.log_level, settings.log_format) == ("info", "text")
    assert settings.config_path is None
    assert settings.polling_config() == {
        "interval_ms": 5000,
        "log_interval_ms": 15000,
        "enabled": True,
    }


def test_slow_client_limits(tmp_path: Path) -> None:
    defaults, _ = load(tmp_path)
    assert (defaults.header_timeout_seconds, defaults.body_timeout_seconds) == (10, 30)
    assert (defaults.idle_timeout_seconds, defaults.max_connections) == (75, 256)
    write_config(
        tmp_path,
        "[server]\nheader_timeout_seconds = 2.5\nbody_timeout_seconds = 5\nmax_connections = 50",
    )
    settings, warnings = load(tmp_path, env={"VPO_IDLE_TIMEOUT": "20", "VPO_MAX_CONNECTIONS": "60"})
    assert warnings == []
    assert (settings.header_timeout_seconds, settings.body_timeout_seconds) == (2.5, 5)
    assert (settings.idle_timeout_seconds, settings.max_connections) == (20, 60)


def test_data_dir_resolution(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_data_dir(None, {}) == tmp_path / "home" / ".vpo"
    assert resolve_data_dir(None, {"VPO_DATA_DIR": "/srv/vpo"}) == Path("/srv/vpo")
    assert resolve_data_dir("/flag", {"VPO_DATA_DIR": "/srv/vpo"}) == Path("/flag")
    assert resolve_data_dir("", {"VPO_DATA_DIR": ""}) == tmp_path / "home" / ".vpo"
    monkeypatch.chdir(tmp_path)
    assert resolve_data_dir("relative", {}) == tmp_path / "relative"
    settings, _ = load_settings({"data_dir": str(tmp_path / "d")}, {"VPO_DATA_DIR": "/x"})
    assert settings.data_dir == tmp_path / "d"


def test_flag_beats_env_beats_file_beats_default(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        """
        [server]
        bind = "127.0.0.2"
        port = 9001
        auth_token = "from-file"
        [polling]
        interval_seconds = 10
        log_interval_seconds = 30
        enabled = false
        [jobs]
        probe_concurrency = 3
        retention_days = 7
        [logging]
        level = "debug"
        """,
    )
    from_file, _ = load(tmp_path)
    assert (from_file.bind, from_file.port, from_file.auth_token) == (
        "127.0.0.2",
        9001,
        "from-file",
    )
    assert from_file.polling_config() == {
        "interval_ms": 10000,
        "log_interval_ms": 30000,
        "enabled": False,
    }
    assert (from_file.probe_concurrency, from_file.retention_days) == (3, 7)
    assert from_file.log_level == "debug" and from_file.log_format == "text"  # default kept
    assert from_file.config_path == tmp_path / "config.toml"
    assert from_file.sources["port"] == f"server.port in {tmp_path / 'config.toml'}"

    env = {
        "VPO_PORT": "9002",
        "VPO_AUTH_TOKEN": "from-env",
        "VPO_POLLING_INTERVAL": "20",
        "VPO_POLLING_ENABLED": "yes",
        "VPO_PROBE_CONCURRENCY": "4",
        "VPO_LOG_FORMAT": "JSON",
    }
    from_env, _ = load(tmp_path, env=env)
    assert (from_env.bind, from_env.port, from_env.auth_token) == ("127.0.0.2", 9002, "from-env")
    assert from_env.polling_interval_seconds == 20 and from_env.polling_enabled is True
    assert from_env.polling_log_interval_seconds == 30  # still from the file
    assert (from_env.probe_concurrency, from_env.log_format) == (4, "json")
    assert from_env.sources["port"] == "VPO_PORT"

    cli = {"port": 9003, "bind": "::1", "auth_token": None, "log_level": "warn"}
    from_flags, _ = load(tmp_path, cli=cli, env=env)
    assert (from_flags.bind, from_flags.port) == ("::1", 9003)
    assert from_flags.auth_token == "from-env"  # a flag given as None is "not given"
    assert from_flags.log_level == "warning"
    assert from_flags.sources["port"] == "--port"


def test_explicit_config_path(tmp_path: Path) -> None:
    write_config(tmp_path, "[server]\nport = 1111\n")
    other = write_config(tmp_path / "elsewhere", "[server]\nport = 2222\n")
    assert load(tmp_path)[0].port == 1111
    assert load(tmp_path, config_path=other)[0].port == 2222
    assert load(tmp_path, cli={"config": str(other)})[0].port == 2222
    assert load(tmp_path, env={"VPO_CONFIG": str(other)})[0].port == 2222
    with pytest.raises(ConfigError, match=r"config file .*nope\.toml does not exist"):
        load(tmp_path, config_path=tmp_path / "nope.toml")


def test_polling_interval_is_clamped_with_a_warning(tmp_path: Path) -> None:
    low, warnings = load(tmp_path, env={"VPO_POLLING_INTERVAL": "0.5"})
    assert low.polling_interval_seconds == 2
    assert warnings == ["polling interval 0.5s (VPO_POLLING_INTERVAL) is outside 2-60s; using 2s"]
    write_config(tmp_path, "[polling]\ninterval_seconds = 600\nlog_interval_seconds = 900\n")
    high, warnings = load(tmp_path)
    assert (high.polling_interval_seconds, high.polling_log_interval_seconds) == (60, 900)
    assert len(warnings) == 1 and "using 60s" in warnings[0]
    fractional, warnings = load(tmp_path, cli={"polling_interval_seconds": 2.5})
    assert fractional.polling_config()["interval_ms"] == 2500 and warnings == []


def test_log_interval_is_never_below_the_interval(tmp_path: Path) -> None:
    write_config(tmp_path, "[polling]\ninterval_seconds = 20\nlog_interval_seconds = 3\n")
    settings, warnings = load(tmp_path)
    assert settings.polling_log_interval_seconds == 20
    assert len(warnings) == 1 and "below the polling interval; using 20s" in warnings[0]
    # The default log interval (15 s) rises with a longer status interval too.
    settings, warnings = load(
        tmp_path, env={"VPO_POLLING_INTERVAL": "30", "VPO_POLLING_LOG_INTERVAL": ""}
    )
    assert settings.polling_log_interval_seconds == 30


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[server\nport = 1\n")
    with pytest.raises(ConfigError) as raised:
        load(tmp_path)
    message = str(raised.value)
    assert str(path) in message and "not valid TOML" in message and "\n" not in message


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[server]\nport = "8321"', "server.port"),
        ("[server]\nport = 70000", "server.port"),
        ("[server]\nbind = 127", "server.bind"),
        ('[polling]\ninterval_seconds = "fast"', "polling.interval_seconds"),
        ("[polling]\nenabled = 1", "polling.enabled"),
        ("[jobs]\nprobe_concurrency = 0", "jobs.probe_concurrency"),
        ("[jobs]\nretention_days = -1", "jobs.retention_days"),
        ("[jobs]\nprobe_concurrency = true", "jobs.probe_concurrency"),
        ('[logging]\nlevel = "loud"', "logging.level"),
        ('[scan]\nextensions = "mkv"', "scan.extensions"),
        ("[scan]\nextensions = []", "scan.extensions"),
        ("[server]\nheader_timeout_seconds = 0", "server.header_timeout_seconds"),
        ('[server]\nbody_timeout_seconds = "slow"', "server.body_timeout_seconds"),
        ("[server]\nidle_timeout_seconds = -5", "server.idle_timeout_seconds"),
        ("[server]\nmax_connections = 0", "server.max_connections"),
        ("[server]\nmax_connections = 10.5", "server.max_connections"),
    ],
)
def test_wrong_types_in_the_file_name_the_key(tmp_path: Path, toml: str, key: str) -> None:
    write_config(tmp_path, toml)
    with pytest.raises(ConfigError, match=rf"^{key} in .*config\.toml: expected "):
        load(tmp_path)


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"VPO_PORT": "http"}, "VPO_PORT"),
        ({"VPO_POLLING_INTERVAL": "soon"}, "VPO_POLLING_INTERVAL"),
        ({"VPO_POLLING_INTERVAL": "nan"}, "VPO_POLLING_INTERVAL"),
        ({"VPO_POLLING_ENABLED": "maybe"}, "VPO_POLLING_ENABLED"),
        ({"VPO_LOG_FORMAT": "xml"}, "VPO_LOG_FORMAT"),
        ({"VPO_BODY_TIMEOUT": "inf"}, "VPO_BODY_TIMEOUT"),
        ({"VPO_MAX_CONNECTIONS": "many"}, "VPO_MAX_CONNECTIONS"),
    ],
)
def test_bad_environment_values_name_the_variable(tmp_path: Path, env: dict, name: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{name}: expected "):
        load(tmp_path, env=env)


def test_bad_flag_values_name_the_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^--port: expected an integer"):
        load(tmp_path, cli={"port": "eighty"})


def test_unknown_keys_are_warnings(tmp_path: Path) -> None:
    write_config(tmp_path, "[polling]\nintervall = 3\n[tui]\ntheme = 'dark'\ntop = 1\n")
    settings, warnings = load(tmp_path)
    assert settings.polling_interval_seconds == 5
    assert warnings == [
        f"ignoring unknown config key 'polling.intervall' in {tmp_path / 'config.toml'}",
        f"ignoring unknown config key 'tui.theme' in {tmp_path / 'config.toml'}",
        f"ignoring unknown config key 'tui.top' in {tmp_path / 'config.toml'}",
    ]


def test_extensions_are_normalised(tmp_path: Path) -> None:
    settings, _ = load(tmp_path, env={"VPO_EXTENSIONS": ".MKV, mp4,,mkv"})
    assert settings.extensions == ("mkv", "mp4")
    write_config(tmp_path, '[scan]\nextensions = ["AVI", ".ts"]\n')
    assert load(tmp_path)[0].extensions == ("avi", "ts")


def test_listening_beyond_loopback_needs_a_token(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"refusing to listen on 0\.0\.0\.0 without an auth token"
    ):
        load(tmp_path, cli={"bind": "0.0.0.0"})
    settings, _ = load(tmp_path, cli={"bind": "0.0.0.0", "auth_token": "s3cret"})
    assert settings.bind == "0.0.0.0" and bind_refusal(settings) is None
    for loopback in ("127.0.0.1", "127.5.5.5", "::1", "localhost"):
        assert load(tmp_path, cli={"bind": loopback})[0].is_loopback
    # Commands that do not listen (vpo scan) may skip the check.
    lax, _ = load(tmp_path, cli={"bind": "192.168.1.5"}, check_bind=False)
    assert "without an auth token" in bind_refusal(lax)


def test_polling_rules_are_the_shared_data_file() -> None:
    rules = polling_rules()
    assert rules["interval_ms"] == {"default": 5000, "min": 2000, "max": 60000}
    assert rules["backoff"]["max_delay_ms"] == 120000
    rules["interval_ms"]["min"] = 1  # a copy: changing it changes nothing for others
    assert polling_rules()["interval_ms"]["min"] == 2000


@pytest.mark.parametrize(
    ("token", "strong"),
    [(" " * 16, 0), ("\t\n " * 10, 0), ("abc " * 5, 15), ("short", 5), (" x" * 15 + " ", 15)],
)
def test_a_token_needs_16_characters_that_are_not_whitespace(token: str, strong: int) -> None:
    assert len(token) >= 5
    weakness = token_weakness(token)
    assert weakness is not None
    assert f"at least 16 characters that are not whitespace (it has {strong})" in weakness


@pytest.mark.parametrize("token", ["0123456789abcdef", "correct horse battery staple", "é" * 16])
def test_a_token_of_16_such_characters_is_enough(token: str) -> None:
    assert token_weakness(token) is None


def test_scan_roots_from_file_and_environment(tmp_path: Path) -> None:
    assert load(tmp_path)[0].scan_roots == ()
    write_config(tmp_path, '[scan]\nroots = ["/srv/media/", "/mnt/usb/../usb2", "/srv/media"]\n')
    assert load(tmp_path)[0].scan_roots == ("/srv/media", "/mnt/usb2")
    settings, _ = load(tmp_path, env={"VPO_SCAN_ROOTS": "/a:/b/c:"})
    assert settings.scan_roots == ("/a", "/b/c")


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[scan]\nroots = "/srv"', "a list of absolute directory paths"),
        ('[scan]\nroots = ["media"]', "absolute directory paths"),
        ("[scan]\nroots = [1]", "a list of absolute directory paths"),
    ],
)
def test_bad_scan_roots_name_the_key(tmp_path: Path, toml: str, expected: str) -> None:
    write_config(tmp_path, toml)
    with pytest.raises(ConfigError, match=rf"^scan\.roots in .*: expected {expected}"):
        load(tmp_path)


def test_idle_interval_defaults_to_four_intervals_within_the_bounds(tmp_path: Path) -> None:
    settings, warnings = load(tmp_path)
    assert settings.polling_idle_interval_seconds == 20 and warnings == []
    assert (settings.poll_hint_ms(busy=True), settings.poll_hint_ms(busy=False)) == (5000, 20000)
    slow, warnings = load(tmp_path, env={"VPO_POLLING_INTERVAL": "20"})
    assert slow.polling_idle_interval_seconds == 60  # not 80: the rules' maximum
    assert not any("idle" in warning for warning in warnings)
    chosen, _ = load(tmp_path, env={"VPO_POLLING_IDLE_INTERVAL": "12.5"})
    assert chosen.poll_hint_ms(busy=False) == 12500


def test_idle_interval_is_clamped_between_the_interval_and_the_maximum(tmp_path: Path) -> None:
    write_config(tmp_path, "[polling]\ninterval_seconds = 10\nidle_interval_seconds = 3\n")
    settings, warnings = load(tmp_path)
    assert settings.polling_idle_interval_seconds == 10
    assert len(warnings) == 1 and "polling.idle_interval_seconds" in warnings[0]
    settings, warnings = load(tmp_path, env={"VPO_POLLING_IDLE_INTERVAL": "600"})
    assert settings.polling_idle_interval_seconds == 60
    assert "VPO_POLLING_IDLE_INTERVAL" in warnings[0] and "using 60s" in warnings[0]
