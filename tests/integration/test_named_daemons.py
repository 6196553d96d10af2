"""Named daemons (client.toml) with real daemons: `--daemon`, VPO_DAEMON, `default`, token
files, `vpo daemons`, and the TUI's options, which resolve through the same path.

The CLI runs as a subprocess with XDG_CONFIG_HOME pointing at a temp dir of our own, so no real
~/.config/vpo/client.toml is consulted.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support.daemon import VPO_EXECUTABLE, DaemonProcess, queue_empty_scans
from vpo_tui.options import parse_options

TOKEN = "named-daemon-token-0123456789"


def write_client_config(config_home: Path, text: str) -> Path:
    path = config_home / "vpo" / "client.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def env_for(config_home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VPO_")}
    env.update(
        XDG_CONFIG_HOME=str(config_home),
        VPO_DATA_DIR="/nonexistent-vpo-data-dir",
        NO_COLOR="1",
        COLUMNS="200",
    )
    env.update(extra)
    return env


def vpo(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VPO_EXECUTABLE), *args], env=env, capture_output=True, text=True, timeout=60
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def films(daemon_factory) -> DaemonProcess:
    return daemon_factory().start()


@pytest.fixture
def tv(daemon_factory) -> DaemonProcess:
    return daemon_factory(token=TOKEN).start()


@pytest.fixture
def config_home(tmp_path: Path, films: DaemonProcess, tv: DaemonProcess) -> Path:
    home = tmp_path / "config-home"
    token_file = home / "vpo" / "tv.token"
    token_file.parent.mkdir(parents=True)
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    write_client_config(
        home,
        f'[daemons.films]\nurl = "{films.url}"\n\n'
        f'[daemons.tv]\nurl = "{tv.url}"\ntoken_file = "tv.token"\n',
    )
    return home


def short_ids(listing: str) -> set[str]:
    return {line.split()[0] for line in listing.splitlines()[1:] if line.strip()}


def test_daemon_flag_and_env_select_a_named_daemon(
    films: DaemonProcess, tv: DaemonProcess, config_home: Path, tmp_path: Path
) -> None:
    [film_job] = queue_empty_scans(films.url, tmp_path / "f", 1)
    env = env_for(config_home)
    by_flag = vpo("jobs", "--daemon", "films", "list", env=env)
    assert by_flag.returncode == 0, by_flag.stderr
    assert film_job["id"][:8] in by_flag.stdout
    # tv needs its token: it comes from the token file, relative to client.toml.
    by_env = vpo("jobs", "list", env=env_for(config_home, VPO_DAEMON="tv"))
    assert by_env.returncode == 0, by_env.stderr
    assert by_env.stdout.strip() == "no jobs yet"
    # --url (and VPO_URL) still win over the named daemon.
    by_url = vpo("jobs", "--daemon", "tv", "--url", films.url, "list", "--json", env=env)
    assert by_url.returncode == 0, by_url.stderr
    assert [job["id"] for job in json.loads(by_url.stdout)["jobs"]] == [film_job["id"]]
    by_env_url = vpo("jobs", "list", env=env_for(config_home, VPO_DAEMON="tv", VPO_URL=films.url))
    assert film_job["id"][:8] in by_env_url.stdout


def test_several_daemons_without_a_default_mean_the_local_one(config_home: Path) -> None:
    """No --daemon, no default and two daemons: nothing is guessed; the built-in URL is used
    (nothing listens there in this test)."""
    result = vpo("jobs", "list", env=env_for(config_home))
    assert "127.0.0.1:8321" in one_line_error(result)


def test_default_and_the_only_daemon_are_used_without_flags(
    films: DaemonProcess, tv: DaemonProcess, tmp_path: Path
) -> None:
    home = tmp_path / "home-default"
    write_client_config(
        home,
        f'default = "films"\n[daemons.films]\nurl = "{films.url}"\n'
        f'[daemons.tv]\nurl = "{tv.url}"\ntoken = "{TOKEN}"\n',
    )
    [job] = queue_empty_scans(films.url, tmp_path / "f", 1)
    assert job["id"][:8] in vpo("jobs", "list", env=env_for(home)).stdout
    only = tmp_path / "home-only"
    write_client_config(only, f'[daemons.tv]\nurl = "{tv.url}"\ntoken = "{TOKEN}"\n')
    result = vpo("jobs", "list", env=env_for(only))
    assert (result.returncode, result.stdout.strip()) == (0, "no jobs yet"), result.stderr


def test_unknown_daemon_is_a_clear_error(config_home: Path, tmp_path: Path) -> None:
    line = one_line_error(vpo("jobs", "--daemon", "music", "list", env=env_for(config_home)))
    assert "no daemon named 'music'" in line and "films, tv" in line
    line = one_line_error(vpo("jobs", "list", env=env_for(config_home, VPO_DAEMON="music")))
    assert "'music'" in line
    empty = tmp_path / "nothing-here"
    line = one_line_error(vpo("jobs", "--daemon", "films", "list", env=env_for(empty)))
    assert "no daemon named 'films'" in line and str(empty / "vpo" / "client.toml") in line


def test_a_token_file_others_can_read_is_refused_with_the_fix(config_home: Path) -> None:
    token_file = config_home / "vpo" / "tv.token"
    for mode in (0o640, 0o604):
        token_file.chmod(mode)
        line = one_line_error(vpo("jobs", "--daemon", "tv", "list", env=env_for(config_home)))
        assert str(token_file) in line
        assert f"chmod 600 {token_file}" in line
    token_file.chmod(0o400)
    ok = vpo("jobs", "--daemon", "tv", "list", env=env_for(config_home))
    assert ok.returncode == 0, ok.stderr


def test_a_broken_client_config_names_the_file_and_key(tmp_path: Path) -> None:
    home = tmp_path / "broken"
    path = write_client_config(home, '[daemons.films]\nurl = "http://x:1"\nport = 3\n')
    line = one_line_error(vpo("jobs", "list", env=env_for(home)))
    assert str(path) in line and "'port'" in line
    write_client_config(home, '[daemons.films]\ntoken = "t"\n')
    assert "'url' is required" in one_line_error(vpo("jobs", "list", env=env_for(home)))
    write_client_config(home, 'default = "tv"\n[daemons.films]\nurl = "http://x:1"\n')
    assert "no daemon named 'tv'" in one_line_error(vpo("jobs", "list", env=env_for(home)))
    write_client_config(home, "[daemons.films\n")
    assert "not valid TOML" in one_line_error(vpo("daemons", env=env_for(home)))


def test_vpo_daemons_lists_each_with_its_health(
    films: DaemonProcess, tv: DaemonProcess, config_home: Path, tmp_path: Path
) -> None:
    queue_empty_scans(films.url, tmp_path / "f", 2)
    listing = vpo("daemons", env=env_for(config_home))
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].split()[:2] == ["films", films.url]
    assert "● ok" in lines[0] and "running" in lines[0] and "queued" in lines[0]
    assert lines[1].split()[:2] == ["tv", tv.url]

    tv.stop()
    as_json = vpo("daemons", "--json", env=env_for(config_home))
    assert as_json.returncode == 0, as_json.stderr
    answers = json.loads(as_json.stdout)
    assert [(a["name"], a["url"], a["reachable"]) for a in answers] == [
        ("films", films.url, True),
        ("tv", tv.url, False),
    ]
    assert isinstance(answers[0]["version"], str) and answers[0]["queued"] is not None
    assert "connection refused" in answers[1]["error"]
    text = vpo("daemons", env=env_for(config_home)).stdout.splitlines()
    assert "✗ unreachable" in text[1]


def test_vpo_daemons_without_a_config(tmp_path: Path) -> None:
    result = vpo("daemons", "--json", env=env_for(tmp_path / "none"))
    assert (result.returncode, json.loads(result.stdout)) == (0, [])
    plain = vpo("daemons", env=env_for(tmp_path / "none"))
    assert plain.returncode == 0 and "no named daemons" in plain.stdout


def test_the_tui_resolves_names_like_the_cli(
    films: DaemonProcess, tv: DaemonProcess, config_home: Path, capsys
) -> None:
    env = env_for(config_home)
    chosen = parse_options(["--daemon", "tv"], env)
    assert (chosen.url, chosen.token, chosen.daemon_name) == (tv.url, TOKEN, "tv")
    assert parse_options([], {**env, "VPO_DAEMON": "films"}).url == films.url
    assert parse_options(["--daemon", "tv", "--url", films.url], env).url == films.url
    several = parse_options(["--all"], env)
    assert [(t.name, t.url) for t in several.targets] == [("films", films.url), ("tv", tv.url)]
    with pytest.raises(SystemExit) as exited:
        parse_options(["--daemon", "music"], env)
    assert exited.value.code == 2
    assert "no daemon named 'music'" in capsys.readouterr().err


def test_list_all_merges_every_daemon_with_a_daemon_column(
    films: DaemonProcess, tv: DaemonProcess, config_home: Path, tmp_path: Path
) -> None:
    film_jobs = queue_empty_scans(films.url, tmp_path / "f", 2)
    with tv.client() as http:
        scan = {"job_type": "scan", "path": str(tmp_path / "f")}
        tv_jobs = [http.post("/api/jobs", json=scan).json()]
    env = env_for(config_home)
    as_json = vpo("jobs", "list", "--all", "--json", env=env)
    assert as_json.returncode == 0, as_json.stderr
    body = json.loads(as_json.stdout)
    listed = [(job["daemon"], job["id"]) for job in body["jobs"]]
    expected = [("films", j["id"]) for j in film_jobs] + [("tv", j["id"]) for j in tv_jobs]
    assert sorted(listed) == sorted(expected)
    created = [job["created_at"] for job in body["jobs"]]
    assert created == sorted(created, reverse=True)  # newest first across both
    assert body["total"] == 3
    assert [d["reachable"] for d in body["daemons"]] == [True, True]

    table = vpo("jobs", "list", "--all", env=env)
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split()[:2] == ["DAEMON", "ID"]
    assert {row.split()[0] for row in rows[:3]} == {"films", "tv"}
    assert any(row.split()[:2] == ["tv", tv_jobs[0]["id"][:8]] for row in rows)

    # One daemon down: the others are still listed, the failure is named, exit 1.
    tv.stop()
    partial = vpo("jobs", "list", "--all", "--json", env=env)
    assert partial.returncode == 1
    assert {job["daemon"] for job in json.loads(partial.stdout)["jobs"]} == {"films"}
    assert "daemon 'tv'" in partial.stderr and "Traceback" not in partial.stderr


def test_show_and_wait_take_daemon_colon_id(
    films: DaemonProcess, tv: DaemonProcess, config_home: Path, tmp_path: Path
) -> None:
    with tv.client() as http:
        job = http.post("/api/jobs", json={"job_type": "scan", "path": str(tmp_path)}).json()
    env = env_for(config_home, VPO_URL=films.url)  # the reference's daemon wins over VPO_URL
    short = job["id"][:8]
    shown = vpo("jobs", "show", f"tv:{short}", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["id"] == job["id"]
    waited = vpo("jobs", "wait", f"tv:{short}", "--timeout", "30", env=env)
    assert waited.returncode == 0, waited.stderr
    assert waited.stdout.startswith(f"job {short} completed")
    # On films that id does not exist; an unknown daemon is named.
    assert "no job matches" in one_line_error(vpo("jobs", "show", f"films:{short}", env=env))
    assert "no daemon named 'music'" in one_line_error(
        vpo("jobs", "wait", f"music:{short}", env=env)
    )
