"""docs/deployment-nas.md, "Using it on the NAS": the two ways an operator runs `vpo jobs` against
a daemon whose data dir belongs to the `vpo` user, tried for real.

The data dir and config file are given to another uid and gid (what `vpo` is on a NAS); `vpo jobs`
then runs as root without the capabilities that ignore permission bits, with or without that gid
as a supplementary group: exactly the checks the kernel makes for an operator in (or out of) the
`vpo` group. (Switching to another user would not do: the checkout and its venv may live where
only root can reach them.)
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.daemon import VPO_EXECUTABLE

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown and setpriv")

VPO_ID = 60321  # the uid and gid that own the data dir, standing in for the `vpo` user
TOKEN = "operator-docs-token-0123456789"


def as_operator(*args: str, in_vpo_group: bool, env: dict[str, str]):
    groups = (f"--groups={VPO_ID}",) if in_vpo_group else ("--clear-groups",)
    command = [
        "setpriv",
        "--bounding-set=-dac_override,-dac_read_search",
        *groups,
        str(VPO_EXECUTABLE),
        *args,
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def test_an_operator_in_the_vpo_group_needs_no_options_once_the_config_is_group_readable(
    daemon_factory, tmp_path: Path
) -> None:
    data_dir = tmp_path / "var-lib-vpo"
    daemon = daemon_factory(token=TOKEN, data_dir=data_dir).start()
    config = data_dir / "config.toml"
    # As deployment-nas.md writes it: the port and the token, mode 0600, all owned by vpo.
    config.write_text(f'[server]\nport = {daemon.port}\nauth_token = "{TOKEN}"\n')
    for path in (data_dir, *data_dir.rglob("*")):
        os.chown(path, VPO_ID, VPO_ID)
    data_dir.chmod(0o750)
    config.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VPO_")}
    env["VPO_DATA_DIR"] = str(data_dir)

    # The defect the page had: "needs no options" while nobody but vpo can read the file.
    refused = as_operator("jobs", "list", in_vpo_group=True, env=env)
    assert refused.returncode == 1, refused
    assert "Error:" in refused.stderr

    # The page's fix: the file readable by the vpo group, the operator in that group.
    config.chmod(0o640)
    listed = as_operator("jobs", "list", in_vpo_group=True, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "no jobs yet" in listed.stdout

    # Outside the group the file stays closed to them.
    outsider = as_operator("jobs", "list", in_vpo_group=False, env=env)
    assert outsider.returncode == 1, outsider


def test_an_operator_with_their_own_copy_of_the_token_needs_no_access_to_the_data_dir(
    daemon_factory, tmp_path: Path
) -> None:
    daemon = daemon_factory(token=TOKEN).start()
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VPO_")}
    # What `export VPO_TOKEN="$(cat ~/.config/vpo/token)"` in a shell profile gives.
    env["VPO_TOKEN"] = token_file.read_text().strip()
    env["VPO_URL"] = daemon.url
    env["VPO_DATA_DIR"] = "/nonexistent-vpo-data-dir"
    listed = as_operator("jobs", "list", in_vpo_group=False, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "no jobs yet" in listed.stdout
