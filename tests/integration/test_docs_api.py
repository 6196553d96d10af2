"""The docs are checked against the running code, so they cannot drift from it.

- docs/api.md against the live daemon's `/api/openapi.json`: every path and method documented and
  nothing else, every query parameter in its endpoint's section, every response field and error
  code, the status codes of each endpoint, and which endpoints send an ETag (asked of the daemon).
- README.md, section "Scripted checks": its curl + jq recipes run with bash against a daemon
  with a token.
- docs/configuration.md and docs/cli.md name every setting, variable and option the code has.
- docs/deployment-nas.md shows exactly the unit shipped as docs/vpo.service, whose ExecStart
  uses only options `vpo serve` has.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import click
import pytest

from tests.support.daemon import DaemonProcess, wait_until
from vpo import config as vpo_config
from vpo.commands.jobs import jobs as jobs_group
from vpo.commands.serve import serve as serve_command

DOCS = Path(__file__).resolve().parents[2] / "docs"
TOKEN = "docs-check-token-0123456789"
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
HEADING = re.compile(r"^### `(GET|POST|PUT|PATCH|DELETE) (/\S*)`\s*$", re.MULTILINE)
# Statuses every route may answer; they are documented once, in the Errors table.
GENERAL_STATUSES = {"401", "403", "408", "413", "415", "431", "500", "503"}
TERMINAL = {"completed", "failed", "cancelled"}


def api_sections() -> dict[tuple[str, str], str]:
    """("GET", "/api/jobs") -> the text of that endpoint's section in docs/api.md."""
    text = (DOCS / "api.md").read_text()
    matches = list(HEADING.finditer(text))
    sections = {}
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        key = (match.group(1), match.group(2))
        assert key not in sections, f"{key} is documented twice"
        sections[key] = text[match.end() : end]
    return sections


def backticked(text: str) -> set[str]:
    return set(re.findall(r"`([^`\s]+)`", text))


def resolve(document: dict, node: dict) -> dict:
    while "$ref" in node:
        target: object = document
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]  # type: ignore[index]
        node = target  # type: ignore[assignment]
    return node


def operations(document: dict) -> dict[tuple[str, str], dict]:
    found = {}
    for path, item in document["paths"].items():
        shared = item.get("parameters", [])
        for method in HTTP_METHODS:
            if method in item:
                operation = dict(item[method])
                operation["parameters"] = shared + operation.get("parameters", [])
                found[(method.upper(), path)] = operation
    return found


@pytest.fixture(scope="module")
def secured_daemon(tmp_path_factory) -> DaemonProcess:
    # Scan roots over every test's tmp dir, so that browsing one answers 200.
    roots = {"scan": {"roots": [str(tmp_path_factory.getbasetemp())]}}
    daemon = DaemonProcess(tmp_path_factory.mktemp("docs-daemon"), token=TOKEN, config=roots)
    daemon.start()
    yield daemon
    try:
        daemon.stop()
    finally:
        daemon.kill()


@pytest.fixture(scope="module")
def openapi(secured_daemon) -> dict:
    with secured_daemon.client() as http:
        response = http.get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()


# --- docs/api.md against the OpenAPI document --------------------------------------------------


def test_every_operation_is_documented_and_nothing_else(openapi):
    assert set(api_sections()) == set(operations(openapi))


def test_the_endpoint_table_links_every_operation(openapi):
    text = (DOCS / "api.md").read_text()
    for method, path in operations(openapi):
        assert f"[`{method} {path}`](#" in text, f"{method} {path} missing from the table"


def test_every_query_parameter_is_documented_in_its_section(openapi):
    sections = api_sections()
    for key, operation in operations(openapi).items():
        names = {
            resolve(openapi, parameter)["name"]
            for parameter in operation["parameters"]
            if resolve(openapi, parameter)["in"] == "query"
        }
        missing = names - backticked(sections[key])
        assert not missing, f"{key}: query parameters {missing} are not documented"


def test_every_request_body_field_is_documented_in_its_section(openapi):
    sections = api_sections()
    for key, operation in operations(openapi).items():
        body = operation.get("requestBody")
        if body is None:
            continue
        schema = resolve(openapi, body["content"]["application/json"]["schema"])
        missing = set(schema.get("properties", {})) - backticked(sections[key])
        assert not missing, f"{key}: body fields {missing} are not documented"


def test_every_response_field_is_documented(openapi):
    documented = backticked((DOCS / "api.md").read_text())
    for name, schema in openapi["components"]["schemas"].items():
        missing = set(schema.get("properties", {})) - documented
        assert not missing, f"fields {missing} of {name} are not documented"


def test_every_error_code_is_documented(openapi):
    codes = set(openapi["components"]["schemas"]["Error"]["properties"]["code"]["enum"])
    errors_section = (DOCS / "api.md").read_text().split("### Errors", 1)[1].split("\n## ", 1)[0]
    assert codes - backticked(errors_section) == set()
    for status in GENERAL_STATUSES:
        assert f"\n| {status} |" in errors_section


def test_each_endpoints_own_status_codes_are_in_its_section(openapi):
    sections = api_sections()
    for key, operation in operations(openapi).items():
        statuses = set(operation["responses"]) - GENERAL_STATUSES - {"200", "304"}
        missing = {s for s in statuses if not re.search(rf"\b{s}\b", sections[key])}
        assert not missing, f"{key}: statuses {missing} are not documented in its section"


def test_the_documented_etags_are_the_ones_the_daemon_sends(secured_daemon, openapi, tmp_path):
    target = tmp_path / "library"
    target.mkdir()
    with secured_daemon.client() as http:
        created = http.post("/api/jobs", json={"job_type": "scan", "path": str(target)})
        assert created.status_code == 201
        job_id = created.json()["id"]
        wait_until(lambda: http.get(f"/api/jobs/{job_id}").json()["status"] in TERMINAL)
        sections = api_sections()
        for (method, path), _ in operations(openapi).items():
            if method != "GET":
                continue
            # The one required query parameter: the directory to browse.
            params = {"path": str(tmp_path)} if path == "/api/browse" else {}
            response = http.get(path.replace("{job_id}", job_id), params=params)
            assert response.status_code == 200, (path, response.text)
            documented = "ETag: yes" in sections[(method, path)]
            assert ("ETag" in response.headers) == documented, f"{path}: ETag documented wrongly"
            if documented:
                assert response.headers["Cache-Control"] == "no-cache"
                again = http.get(
                    path.replace("{job_id}", job_id),
                    headers={"If-None-Match": response.headers["ETag"]},
                )
                assert again.status_code == 304 and again.content == b""


# --- README.md "Scripted checks", run for real ------------------------------------------------


def scripted_checks_blocks() -> list[str]:
    """The bash blocks of the README's "Scripted checks" section (up to the next heading)."""
    readme = (DOCS.parent / "README.md").read_text()
    section = readme.split("## Scripted checks", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, re.DOTALL)


def run_recipe(daemon: DaemonProcess, script: str, cwd: Path) -> subprocess.CompletedProcess:
    preamble = (
        "set -o pipefail\n"
        f"VPO={daemon.url}\n"
        f"VPO_TOKEN={TOKEN}\n"
        'AUTH=(-H "Authorization: Bearer $VPO_TOKEN")\n'
    )
    return subprocess.run(
        ["bash", "-c", preamble + script],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_scripted_checks_work_against_a_daemon_with_a_token(secured_daemon, tmp_path):
    assert shutil.which("curl") and shutil.which("jq"), "the recipes need curl and jq"
    blocks = scripted_checks_blocks()
    assert len(blocks) == 6, "update this test when recipes are added or removed"
    setup, list_failed, queue_and_wait, tail_log, etag_poll, health = blocks
    assert "AUTH=()" in setup and "VPO=" in setup

    # A job that fails: its target vanishes while a long scan keeps the worker busy.
    slow = tmp_path / "slow"
    slow.mkdir()
    for index in range(1500):
        (slow / f"junk-{index:05d}.mkv").write_bytes(b"junk %d" % index)
    doomed = tmp_path / "doomed"
    doomed.mkdir()
    with secured_daemon.client() as http:

        def submit(path: Path) -> str:
            return http.post("/api/jobs", json={"job_type": "scan", "path": str(path)}).json()["id"]

        def status(job_id: str) -> str:
            return http.get(f"/api/jobs/{job_id}").json()["status"]

        blocker = submit(slow)
        wait_until(lambda: status(blocker) == "running", timeout=30)
        failing = submit(doomed)
        shutil.rmtree(doomed)
        http.post(f"/api/jobs/{blocker}/cancel", json={})
        wait_until(lambda: status(failing) in TERMINAL, timeout=60)
        assert status(failing) == "failed"
        error_message = http.get(f"/api/jobs/{failing}").json()["error_message"]

    listed = run_recipe(secured_daemon, list_failed, tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0].startswith(failing[:8])
    assert error_message in listed.stdout

    library = tmp_path / "media"
    library.mkdir()
    (library / "a.mkv").write_bytes(b"not really a video")
    assert "/srv/media" in queue_and_wait
    waited = run_recipe(
        secured_daemon, queue_and_wait.replace("/srv/media", str(library)), tmp_path
    )
    assert waited.returncode == 0, (waited.stdout, waited.stderr)
    match = re.fullmatch(r"job ([0-9a-f-]{36}) completed\n", waited.stdout)
    assert match, waited.stdout
    job_id = match.group(1)

    tailed = run_recipe(secured_daemon, f"id={job_id}\n" + tail_log, tmp_path)
    assert tailed.returncode == 0, tailed.stderr
    with secured_daemon.client() as http:
        expected = http.get(f"/api/jobs/{job_id}/logs", params={"lines": 1000}).json()["lines"]
    assert tailed.stdout.splitlines() == expected and expected

    polled = run_recipe(secured_daemon, etag_poll, tmp_path)
    assert (polled.returncode, polled.stdout) == (0, "unchanged\n"), polled.stderr
    assert (tmp_path / "jobs.json").read_text().startswith('{"jobs":')

    healthy = run_recipe(secured_daemon, health, tmp_path)
    assert healthy.stdout == "ok: 0 running, 0 queued\n", healthy.stderr


# --- configuration, CLI and deployment docs against the code -----------------------------------


def long_options(command: click.Command) -> set[str]:
    return {
        name
        for parameter in command.params
        if isinstance(parameter, click.Option)
        for name in parameter.opts
        if name.startswith("--")
    } - {"--help"}


def test_configuration_names_every_setting_variable_and_flag():
    text = (DOCS / "configuration.md").read_text()
    words = backticked(text)
    # The settings table of vpo/config.py: (field, config key, environment variable).
    for _field, file_key, env_var in vpo_config._SETTINGS_KEYS:
        assert file_key in words, f"{file_key} is not documented"
        assert env_var in words, f"{env_var} is not documented"
    assert {"VPO_DATA_DIR", "VPO_CONFIG", "VPO_URL", "VPO_TOKEN"} <= words
    missing = long_options(serve_command) - words
    assert not missing, f"vpo serve options {missing} are not in configuration.md"
    for extension in vpo_config.DEFAULT_EXTENSIONS:
        assert f'"{extension}"' in text


def test_cli_doc_covers_every_jobs_command_and_option():
    text = (DOCS / "cli.md").read_text()
    assert long_options(jobs_group) <= backticked(text) | set(re.findall(r"--[a-z-]+", text))
    for name, command in jobs_group.commands.items():
        assert f"### `vpo jobs {name}" in text, f"vpo jobs {name} has no section"
        missing = {option for option in long_options(command) if option not in text}
        assert not missing, f"vpo jobs {name}: options {missing} are not documented"


def test_the_deployment_page_shows_the_shipped_unit():
    unit = (DOCS / "vpo.service").read_text()
    unit_body = unit[unit.index("[Unit]") :].strip()
    page = (DOCS / "deployment-nas.md").read_text()
    blocks = re.findall(r"```ini\n(.*?)```", page, re.DOTALL)
    assert [block.strip() for block in blocks] == [unit_body]


def test_the_units_command_line_is_one_vpo_serve_accepts():
    unit = (DOCS / "vpo.service").read_text()
    exec_start = re.search(r"^ExecStart=(.*)$", unit, re.MULTILINE).group(1).split()
    assert exec_start[0].endswith("/bin/vpo") and exec_start[1] == "serve"
    given = {word for word in exec_start[2:] if word.startswith("--")}
    assert given <= long_options(serve_command)
    context = serve_command.make_context("serve", exec_start[2:])
    assert context.params["log_format"] == "json"
