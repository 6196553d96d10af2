"""The `vpo` group itself: help flags, the version, and what it imports before a command runs.

`vpo --help` must stay quick: the group imports a command's module only when that command runs,
so the import checks below are structural (which modules are loaded), not timings.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from vpo import __version__
from vpo.cli import COMMANDS, LazyGroup, main

VPO = Path(sys.executable).parent / "vpo"

# Heavy or server-side modules that only a command that needs them may import.
NOT_FOR_THE_GROUP = [
    "aiohttp",
    "httpx",
    "rich",
    "textual",
    "jinja2",
    "vpo.server",
    "vpo.store",
    "vpo.scan",
    "vpo.runner",
    "vpo.client",
    "vpo.commands",
]


def run_vpo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VPO), *args], capture_output=True, text=True, timeout=60)


def loaded_modules(code: str) -> list[str]:
    """The modules loaded after running `code` in a fresh interpreter."""
    script = (
        f"{code}\nimport json, sys\n"
        "print(json.dumps(sorted(k for k, v in sys.modules.items() if v is not None)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in NOT_FOR_THE_GROUP)]


@pytest.mark.parametrize("args", [[], ["jobs"], ["scan"], ["serve"], ["jobs", "list"]])
def test_dash_h_is_help(args):
    short, long = run_vpo(*args, "-h"), run_vpo(*args, "--help")
    assert short.returncode == long.returncode == 0, short.stderr
    assert short.stdout == long.stdout
    assert short.stdout.startswith(f"Usage: vpo {' '.join(args)}".rstrip() + " [OPTIONS]")
    assert "-h, --help" in short.stdout


def test_version():
    result = run_vpo("--version")
    assert result.returncode == 0
    assert result.stdout == f"vpo, version {__version__}\n"


def test_unknown_command_is_a_usage_error():
    result = run_vpo("nosuch")
    assert result.returncode == 2
    assert "No such command 'nosuch'" in result.stderr
    assert "Traceback" not in result.stderr


def test_importing_the_cli_loads_no_command_module():
    assert heavy(loaded_modules("import vpo.cli")) == []


@pytest.mark.parametrize("flag", ["--help", "-h", "--version"])
def test_group_help_and_version_load_no_command_module(flag):
    code = (
        "from vpo.cli import main\n"
        "try:\n"
        f"    main([{flag!r}], prog_name='vpo')\n"
        "except SystemExit:\n"
        "    pass"
    )
    assert heavy(loaded_modules(code)) == []


def test_a_command_loads_only_its_own_module():
    code = (
        "from vpo.cli import main\n"
        "try:\n"
        "    main(['serve', '--help'], prog_name='vpo')\n"
        "except SystemExit:\n"
        "    pass"
    )
    modules = loaded_modules(code)
    assert "vpo.commands.serve" in modules
    assert "vpo.commands.jobs" not in modules and "vpo.commands.scan" not in modules
    assert "aiohttp" not in modules  # serve imports the server only when it runs


@pytest.mark.parametrize("width", [60, 80, 120])
def test_group_help_matches_the_commands_docstrings(width):
    """The summaries kept in vpo/cli.py read exactly as click would print the commands' own."""
    lazy = LazyGroup(name="vpo", lazy_commands=COMMANDS, help=main.help, params=main.params)
    eager = click.Group(name="vpo", help=main.help, params=main.params)
    for name, command in COMMANDS.items():
        module = __import__(command.module, fromlist=[command.attribute])
        eager.add_command(getattr(module, command.attribute), name)

    def help_text(group: click.Group) -> str:
        return group.get_help(click.Context(group, info_name="vpo", terminal_width=width))

    assert help_text(lazy) == help_text(eager)
