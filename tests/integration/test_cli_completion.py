"""Shell completion of the installed `vpo` script, as docs/cli.md tells users to turn it on.

The shell asks the script itself: `_VPO_COMPLETE=bash_source vpo` prints the function to load,
and each Tab runs `vpo` again with `_VPO_COMPLETE=bash_complete` and the words typed so far. These
tests make that second call the way the loaded function does and read its answer: one
`type,value` line per candidate (`plain` for a word, `dir` for "let the shell list directories").
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.support.daemon import VPO_EXECUTABLE


def complete(line: str, shell: str = "bash") -> list[tuple[str, str]]:
    """What Tab offers after `line` (a trailing space means: a new, empty word)."""
    words = line.split(" ")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VPO_")}
    env.update(
        _VPO_COMPLETE=f"{shell}_complete",
        COMP_WORDS=line,
        COMP_CWORD=str(len(words) - 1),
    )
    done = subprocess.run(
        [str(VPO_EXECUTABLE)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    return [tuple(item.split(",", 1)) for item in done.stdout.splitlines()]  # type: ignore[misc]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_script_prints_a_completion_function_for_each_shell(shell: str) -> None:
    env = {**os.environ, "_VPO_COMPLETE": f"{shell}_source"}
    done = subprocess.run(
        [str(VPO_EXECUTABLE)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "_vpo_completion" in done.stdout
    assert "_VPO_COMPLETE" in done.stdout


def test_commands_options_and_choices_complete() -> None:
    assert complete("vpo jo") == [("plain", "jobs")]
    assert ("plain", "wait") in complete("vpo jobs ")
    assert complete("vpo jobs list --so") == [("plain", "--sort")]
    assert complete("vpo jobs list --order ") == [("plain", "asc"), ("plain", "desc")]
    assert complete("vpo serve --log-format ") == [("plain", "text"), ("plain", "json")]


def test_scan_paths_complete_as_directories() -> None:
    # A scan root is a directory: the shell lists directories (names that are not UTF-8
    # included, since the shell does it, not Python).
    assert complete("vpo scan /sr") == [("dir", "/sr")]
    assert complete("vpo scan /srv/media /mn") == [("dir", "/mn")]
    assert complete("vpo scan --data-dir /var/li") == [("dir", "/var/li")]
