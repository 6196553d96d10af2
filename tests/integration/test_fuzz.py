"""Schemathesis fuzzes the live daemon from its own OpenAPI document, with every check it has
(`--checks all`: server errors, status codes, content types, headers, schemas, positive data
accepted, negative data rejected, undeclared methods answered 405 with Allow, auth not ignored,
resources available after creation...) in all four phases, stateful included (it follows the
document's links from a queued job to its detail, logs, errors and cancel).

Run through schemathesis' own CLI, as a user would run it. Bounded and reproducible: a fixed
seed and a fixed number of examples per operation (about 10-20 s on a laptop).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.daemon import DaemonProcess
from tests.support.fuzz_hooks import SCAN_TARGET_ENV

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
SEED = 20261130
MAX_EXAMPLES = 30
TOKEN = "fuzz-token-0123456789abcdef"
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("token", [None, TOKEN], ids=["open", "with-token"])
def test_api_passes_every_schemathesis_check(
    daemon_factory, tmp_path: Path, token: str | None
) -> None:
    scan_target = tmp_path / "empty-library"
    scan_target.mkdir()
    # With a token, the daemon also has a scan root (so browsing answers 200 to valid input);
    # without, it has none (browsing answers 403 NO_SCAN_ROOTS, scans may go anywhere).
    config = {"scan": {"roots": [str(tmp_path)]}} if token else None
    daemon: DaemonProcess = daemon_factory(token=token, config=config).start()
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{daemon.url}/api/openapi.json",
        "--checks=all",
        "--phases=examples,coverage,fuzzing,stateful",
        f"--max-examples={MAX_EXAMPLES}",
        f"--seed={SEED}",
        "--workers=1",
        "--request-timeout=10",
        "--no-color",
    ]
    if token:
        command.append(f"--header=Authorization: Bearer {token}")
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.support.fuzz_hooks",
        SCAN_TARGET_ENV: str(scan_target),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=280
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    # Every phase ran and found operations to test.
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in output, output[-8000:]
    assert "12 selected / 12 total" in output
    # Whatever was thrown at it, the daemon logged no traceback and no error.
    log = daemon.stderr_text()
    assert "Traceback" not in log and " ERROR " not in log, log[-3000:]
