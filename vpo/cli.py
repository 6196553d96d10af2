"""The `vpo` command line: one group, one module per command in `vpo/commands/`.

The command modules are imported only when their command runs (or shows its own help): they pull
in rich, httpx, the scan pipeline and the store, which `vpo --help`, `vpo --version` and the
other commands do not need. The group's own help lists each command with the summary kept here,
which a test checks against the command's docstring.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import click

from vpo import __version__


@dataclass(frozen=True)
class LazyCommand:
    module: str  # defines a click command named like the attribute
    attribute: str
    summary: str  # the first line of the command's docstring, for `vpo --help`


COMMANDS = {
    "daemons": LazyCommand(
        "vpo.commands.daemons",
        "daemons",
        "List the named daemons of the client config with their health (one line each).",
    ),
    "jobs": LazyCommand(
        "vpo.commands.jobs",
        "jobs",
        "List, inspect, follow, cancel, retry and wait for the daemon's jobs.",
    ),
    "scan": LazyCommand(
        "vpo.commands.scan",
        "scan",
        "Scan PATH... for videos: record files, hashes and streams; mark vanished files missing.",
    ),
    "serve": LazyCommand(
        "vpo.commands.serve",
        "serve",
        "Run the daemon: take queued jobs, serve the API and the dashboard until SIGTERM.",
    ),
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use; see the module docstring."""

    def __init__(self, *args: object, lazy_commands: dict[str, LazyCommand], **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        lazy = self.lazy_commands.get(cmd_name)
        if lazy is None or cmd_name in self.commands:
            return super().get_command(ctx, cmd_name)
        command = getattr(importlib.import_module(lazy.module), lazy.attribute)
        self.add_command(command, cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Click's own layout, but with the summaries kept here (no command module imported)."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            command = self.commands.get(name)
            if command is None:  # not loaded: a stand-in that has only the summary
                command = click.Command(name, help=self.lazy_commands[name].summary)
            if not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="vpo")
def main() -> None:
    """VPO: keep a video library in order."""
